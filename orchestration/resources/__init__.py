"""One ConfigurableResource per external system. Empty fields fall back to
liveline.settings at run time (LIVELINE_* variables), never at import time."""
