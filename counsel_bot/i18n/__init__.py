"""Languages: gettext catalogues, Babel formatting, the dialogs extractor and the check."""
