"""The one gate every user input and every generated text passes through (issue 9)."""
