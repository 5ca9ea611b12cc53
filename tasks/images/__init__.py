"""Images: an image folder (or a table of paths) indexed as rows, minority classes filled with
augmented copies (albumentations)."""
