"""Text: minority-class texts paraphrased by back-translation (MarianMT) or EDA."""
