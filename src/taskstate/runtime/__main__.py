import sys

from taskstate.runtime.main import main

sys.exit(main())
