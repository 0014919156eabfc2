"""Held-out texts for perplexity: written for this project (2026-11), so no model has seen
them. One per generation preset's domain plus general prose, about 110-160 words each.

Used by ``bench/generation_precision.py`` (which precision the default generator ships)
and ``bench/generation_speed.py`` (perplexity column).
"""

TEXTS = (
    # news
    "The town of Harlow Bridge will close its oldest footbridge for six weeks from Monday "
    "while engineers replace the rusted supports that hold it above the canal. The council "
    "said a temporary crossing would open two hundred metres downstream, and that buses on "
    "route 14 would stop at both ends of the detour. Shop owners on Mill Street, who depend "
    "on walkers from the station, asked for the work to be moved to the winter, when fewer "
    "visitors come. A spokesperson for the council replied that the inspection in September "
    "had found cracks that could not wait. The repairs are expected to cost just under two "
    "million pounds, most of it paid by a regional transport fund.",
    # product description
    "This insulated steel bottle keeps drinks cold for a full day and hot for twelve hours. "
    "The double wall is vacuum sealed, so the outside never sweats or burns your hand, and "
    "the powder coating gives a firm grip even when wet. A wide mouth takes ice cubes and "
    "is easy to clean with a brush, while the leak-proof lid has a folding handle that clips "
    "onto a backpack. It holds 750 millilitres, weighs 340 grams and fits most car cup "
    "holders. Every part that touches your drink is free of plastic, and the bottle is "
    "covered by a five-year warranty against dents in the seal.",
    # e-mail
    "Hi Priya, thanks for sending the draft report on Friday. I have read it twice and the "
    "structure works well; the section on delivery times is the strongest part. Two things "
    "before we share it with the board. First, the figures in the second table do not match "
    "the totals in the summary, so could you check which version of the spreadsheet they came "
    "from? Second, the recommendations would be easier to follow as a numbered list with an "
    "owner for each item. If you can send an updated version by Wednesday noon, I will book "
    "a short call on Thursday morning to go through it together. Best regards, Daniel",
    # abstract
    "We study how the length of a training schedule affects the calibration of small "
    "language models. Across four model sizes between twenty and one hundred and sixty "
    "million parameters, we find that models trained for longer are more accurate but also "
    "more confident, and that the gap between confidence and accuracy grows on questions "
    "outside the training distribution. A simple temperature fitted on a held-out set removes "
    "most of the gap within the distribution but only half of it outside. We release our "
    "evaluation code and discuss what the results imply for deploying compact models on "
    "devices where a second opinion from a larger model is not available.",
    # general prose
    "My grandmother kept a notebook by the kitchen window in which she wrote down the first "
    "day each year that she heard the swifts return. The entries go back more than forty "
    "years, in pencil at first and later in blue ink, and each one gives the date, the "
    "weather and sometimes a line about the family. Reading them now, you can see the birds "
    "arriving a little earlier in most decades, though never in a straight line. Some years "
    "she missed them entirely because she was in hospital or away visiting her sister by the "
    "sea. The last entry, written in a shaky hand, simply says that they came back in the rain.",
    # technical instructions
    "To replace the filter, first switch off the unit at the wall and wait five minutes for "
    "the fan to stop. Open the front panel by pressing both side clips at the same time, then "
    "slide the old filter out towards you. Check the arrow printed on the frame of the new "
    "filter: it must point towards the back of the unit, in the direction of the air flow. "
    "Push the filter in until you feel it click, close the panel and switch the power back "
    "on. The indicator light will blink green three times to confirm that the filter timer "
    "has been reset. Replace the filter every six months, or sooner if you keep pets.",
)
