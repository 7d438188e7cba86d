"""Reading operands: paths, literals, standard input, sniffed from the bytes already read."""
