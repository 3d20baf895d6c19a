"""The satisfaction survey from the kiosk: anonymous, no login (like the kiosk's ticket).

The kiosk asks what it may offer (`/survey/offers`): a questionnaire for a service type
whose card was just handed over, and the coins for the latest handover. What it sends is
taken only against such an offer, once: the station takes no more responses than it
served people.
"""

from __future__ import annotations

from fastapi import APIRouter

from appliance.pipeline import KeypadPress, QuestionnaireForm, SurveyOffers, SurveyReceipt

from ._deps import Context

router = APIRouter(prefix="/survey", tags=["survey"])


@router.get("/offers")
async def offers(context: Context) -> SurveyOffers:
    return context.pipeline.survey.offers()


@router.post("/questionnaires", status_code=201)
async def answer(body: QuestionnaireForm, context: Context) -> SurveyReceipt:
    return context.pipeline.survey.answer(body)


@router.post("/keypad", status_code=201)
async def press(body: KeypadPress, context: Context) -> SurveyReceipt:
    return context.pipeline.survey.press(body.rating)
