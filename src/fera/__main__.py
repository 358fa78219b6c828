import sys

from fera.cli import main

sys.exit(main())
