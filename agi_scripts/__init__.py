"""One short module per AGI route; agi_scripts.routes holds the one explicit route table."""
