"""Social Policy Bank loan records of club members: posted in bulk, matched, kept as history."""
