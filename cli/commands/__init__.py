"""The work behind each command: binding operands, choosing G, running core, handing results to a view or writer."""
