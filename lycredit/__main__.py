"""``python -m lycredit``: the same program as the ``lycredit`` console script."""

from lycredit.commands.main import main

main(prog_name="lycredit")
