import sys

from counsel_bot.cli.main import main

sys.exit(main())
