"""What comes in from outside: import files, API bodies, replies, provider callbacks.

Every row, body and event is validated here (one model whatever the door)
and recorded through one service.
"""
