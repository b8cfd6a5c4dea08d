"""The offline playground (`make play`): the loopback fake Discord, the engine and the bot in a terminal.

Only `python -m bot.playground` and `python -m bot` (offering it when no token is set) start it; the bot
itself never imports this package.
"""
