"""Python checks named by rules/*.toml (`check = "module:function"`), one module per category."""
