"""Documents in: file loaders, bytes to text (``decoding``), HTML to text, cleaning, zip
archives, paths confined to a root."""
