# Preloaded by every httpd parent: shared by the children until they write to it.
use strict;
use warnings;
1;
