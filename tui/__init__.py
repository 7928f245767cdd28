"""Everything that draws on a terminal: the dashboard (app.py) and the command line (cli.py)."""
