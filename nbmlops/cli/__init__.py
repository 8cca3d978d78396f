"""The `nbmlops` command. `fast` is the console script (the core commands without click), `main` the click
group, `commands` the core commands' option tables and bodies, `group` and `output` what every command shares,
and one module per command group (`runs`, `models`, `features`, `monitor`). Nothing here is imported by the
rest of the package; importing this package imports nothing (the fast path must stay fast)."""
