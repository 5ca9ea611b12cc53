"""Tables: a table's rows are the samples, imbalanced-learn's samplers rebalance them."""
