"""lycredit: administration toolkit for a city public credit information platform.

The core library. It never imports click; the CLI lives in ``lycredit.commands``.
Importing this package is cheap on purpose: cron runs many short commands.
"""

__version__ = "0.1.0"
