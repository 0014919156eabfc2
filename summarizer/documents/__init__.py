"""Documents in: file loaders, HTML to text, cleaning, zip archives, paths confined to a root."""
