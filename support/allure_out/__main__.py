"""``python -m support.allure_out prepare``: what ``make report`` runs before ``allure generate``."""

import sys

from support.allure_out.history import main

sys.exit(main(sys.argv[1:]))
