"""The operator commands: `liveline publish | status | rollback | demo | dev | train | platform`."""
