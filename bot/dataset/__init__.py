"""`python -m bot.dataset export`: the consented feedback as training data for `python -m engine.finetune`."""
