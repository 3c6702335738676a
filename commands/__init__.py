"""The CLI layer of lycredit (installed as ``lycredit.commands``).

One module per subcommand group: options, one call into the core, rendering.
No SQL and no rules here; those live in the ``lycredit`` core.
"""
