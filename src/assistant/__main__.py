"""`python -m assistant ...`: the same commands as `cfsp-assistant ...`."""

from .cli import main

main()
