"""`python -m bot.evaluate`: how well does a model write for Taleweaver? Form adherence (first draft and
best of N), diversity and repetition, narrator faults, and perplexity, as JSON, a table and a chart."""
