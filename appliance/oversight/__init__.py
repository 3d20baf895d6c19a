"""Oversight as the seeds require it (seed 001 §10-14, PermenPANRB 14/2017): the
satisfaction survey and its index (IKM), the complaint book's rules, and the figures of a
period as a pure function of register events.

This package is the rules and the arithmetic, below the register (whose payload models
use its vocabularies) and importable without the devices or the web stack, so the
station and the central collector compute the same figures from the same events. What
the station does with them (the keypad after a handover, the complaint book's actions,
their deadlines' watch) is the pipeline's; the contacts of complainants are kept on the
station by `ContactBook`, never in an event.

Inside: `_elements` (the nine elements, their questions and answers), `_index` (NRR,
unit index, IKM, grade, the one rounding), `_sample` (Krejcie-Morgan), `_period`
(reporting periods), `_instruments` (the keypad's press, the questionnaire's answers and
profile), `_complaints` (channels, categories, deadlines, texts, contacts), `_contacts`
(the contacts' file), `_figures` and `_document` (a period's figures, as JSON),
`_settings` (`[oversight]`), `_errors`.
"""

from ._complaints import (
    COMPLAINT_NUMBER_PATTERN,
    DEFAULT_DEADLINE_DAYS,
    LAPOR_ID_PATTERN,
    BookText,
    Category,
    Channel,
    Contact,
    ShortBookText,
    StandardPart,
    complaint_due,
    complaint_number,
)
from ._contacts import ContactBook, ContactBookError
from ._document import complaints_document, figures_document, number, percent
from ._elements import ELEMENTS, HIGHEST_SCORE, LOWEST_SCORE, Element, ElementSpec
from ._errors import OversightError
from ._figures import (
    FIGURE_EVENTS,
    ComplaintFigures,
    Figures,
    KeypadFigures,
    RegisterEvent,
    SurveyFigures,
    figures,
)
from ._index import ELEMENT_WEIGHT, IKM_FACTOR, Grade, SurveyIndex, grade_of, shown
from ._instruments import (
    PROFILE_LABELS,
    AgeBand,
    Answers,
    Education,
    Occupation,
    Profile,
    Satisfaction,
    Score,
)
from ._period import PERIOD_PATTERN, Period, PeriodField, PeriodKind
from ._sample import minimum_sample
from ._settings import OversightSection

__all__ = [
    "COMPLAINT_NUMBER_PATTERN",
    "DEFAULT_DEADLINE_DAYS",
    "ELEMENTS",
    "ELEMENT_WEIGHT",
    "FIGURE_EVENTS",
    "HIGHEST_SCORE",
    "IKM_FACTOR",
    "LAPOR_ID_PATTERN",
    "LOWEST_SCORE",
    "PERIOD_PATTERN",
    "PROFILE_LABELS",
    "AgeBand",
    "Answers",
    "BookText",
    "Category",
    "Channel",
    "ComplaintFigures",
    "Contact",
    "ContactBook",
    "ContactBookError",
    "Education",
    "Element",
    "ElementSpec",
    "Figures",
    "Grade",
    "KeypadFigures",
    "Occupation",
    "OversightError",
    "OversightSection",
    "Period",
    "PeriodField",
    "PeriodKind",
    "Profile",
    "RegisterEvent",
    "Satisfaction",
    "Score",
    "ShortBookText",
    "StandardPart",
    "SurveyFigures",
    "SurveyIndex",
    "complaint_due",
    "complaint_number",
    "complaints_document",
    "figures",
    "figures_document",
    "grade_of",
    "minimum_sample",
    "number",
    "percent",
    "shown",
]
