"""`python -m gitops_agent` runs the same CLI as the `gitops-agent` console script."""

import sys

from gitops_agent.cli import main

sys.exit(main())
