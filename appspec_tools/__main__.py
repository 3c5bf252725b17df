import sys

from appspec_tools.cli import main

sys.exit(main())
