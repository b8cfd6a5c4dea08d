"""Writing craft that is checked: poetic forms verified with prosody libraries, and the best of N drafts.

Discord-free. `check(form, text)` scores one draft; `best_draft(drafts, form)` picks among several;
`forms_for(language)` lists the forms of a language; `poem_messages` is what the model is asked.
"""

from bot.craft.best import Choice, Draft, best_draft
from bot.craft.checks import check
from bot.craft.clean import clean_draft
from bot.craft.forms import (
    CHINESE,
    ENGLISH,
    FORMS,
    LANGUAGES,
    Form,
    UnknownForm,
    forms_for,
    get_form,
    language_code,
    poem_messages,
)
from bot.craft.result import FormCheck, LineCheck, RefrainCheck, Rhyme, RhymeCheck

__all__ = [
    "CHINESE",
    "ENGLISH",
    "FORMS",
    "LANGUAGES",
    "Choice",
    "Draft",
    "Form",
    "FormCheck",
    "LineCheck",
    "RefrainCheck",
    "Rhyme",
    "RhymeCheck",
    "UnknownForm",
    "best_draft",
    "check",
    "clean_draft",
    "forms_for",
    "get_form",
    "language_code",
    "poem_messages",
]
