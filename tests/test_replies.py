"""Debtors' replies: the built-in zh-CN and en classifier, and the classify hook.

Given today is Wednesday 2 December 2026 in the debtor's zone, when a reply
arrives, then it reads as the kind (and promised day) a collections agent would
read, and a bare opt-out keyword is always an opt-out.
"""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dunning.core.domain.replies import REPLY_KINDS, Classification, classify_reply
from dunning.core.hookspecs import hookimpl
from dunning.core.plugins import make_plugin_manager
from dunning.plugins.replies import CLASSIFIER, OPT_OUT_WORDS, PRECEDENCE, classify
from dunning.plugins.reply_dates import find_dates, parse_number
from dunning.plugins.reply_text import normalise

TODAY = date(2026, 12, 2)  # a Wednesday
assert TODAY.weekday() == 2


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


# (reply, locale, kind, promised day) -- kind None: no table matches
CASES: list[tuple[str, str, str | None, date | None]] = [
    # -- opt-out: bare keywords, in every spelling a handset produces
    ("STOP", "en", "opt_out", None),
    ("ＳＴＯＰ", "en", "opt_out", None),
    ("stop.", "en", "opt_out", None),
    (" Stop ", "en", "opt_out", None),
    ("Stop!!!", "en", "opt_out", None),
    ("STOP ALL", "en", "opt_out", None),
    ("stopall", "en", "opt_out", None),
    ("UNSUBSCRIBE", "en", "opt_out", None),
    ("End", "en", "opt_out", None),
    ("quit", "en", "opt_out", None),
    ("Cancel", "en", "opt_out", None),
    ("REVOKE", "en", "opt_out", None),
    ("OPT OUT", "en", "opt_out", None),
    ("opt-out", "en", "opt_out", None),
    ("OPTOUT", "en", "opt_out", None),
    ("stop please", "en", "opt_out", None),
    ("T", "zh-CN", "opt_out", None),
    ("t", "zh-CN", "opt_out", None),
    ("Ｔ", "zh-CN", "opt_out", None),
    ("td", "zh-CN", "opt_out", None),
    ("ＴＤ。", "zh-CN", "opt_out", None),
    ("退订", "zh-CN", "opt_out", None),
    ("退订。", "zh-CN", "opt_out", None),
    ("退订短信", "zh-CN", "opt_out", None),
    ("回T退订", "zh-CN", "opt_out", None),
    ("回复T", "zh-CN", "opt_out", None),
    ("退 订", "zh-CN", "opt_out", None),
    ("STOP STOP STOP", "en", "opt_out", None),
    ("T 谢谢", "zh-CN", "opt_out", None),
    ("STOP", "zh-CN", "opt_out", None),
    ("退订", "en", "opt_out", None),
    # -- opt-out: said in a sentence
    ("please stop texting me", "en", "opt_out", None),
    ("Stop calling me!", "en", "opt_out", None),
    ("Don't text me again", "en", "opt_out", None),
    ("do not contact me", "en", "opt_out", None),
    ("no more messages", "en", "opt_out", None),
    ("Leave me alone", "en", "opt_out", None),
    ("remove my number from your list", "en", "opt_out", None),
    ("I want to opt out", "en", "opt_out", None),
    ("cancel these reminders", "en", "opt_out", None),
    ("I revoke my consent", "en", "opt_out", None),
    ("别再发了", "zh-CN", "opt_out", None),
    ("不要再发", "zh-CN", "opt_out", None),
    ("不要再给我发短信了", "zh-CN", "opt_out", None),
    ("别打了", "zh-CN", "opt_out", None),
    ("请勿打扰", "zh-CN", "opt_out", None),
    ("不用再联系我了", "zh-CN", "opt_out", None),
    ("我要退订", "zh-CN", "opt_out", None),
    ("please stop 别再发了", "en", "opt_out", None),
    # -- opt-out wins over everything else
    ("已还，别再发了", "zh-CN", "opt_out", None),
    ("不是我的，别发了", "zh-CN", "opt_out", None),
    ("STOP. I already paid", "en", "opt_out", None),
    ("I already paid\nSTOP", "en", "opt_out", None),  # a line of its own is a clause of its own
    ("1，停止", "zh-CN", "opt_out", None),  # a full-width comma ends a clause even after a digit
    ("wrong number, stop texting", "en", "opt_out", None),
    ("don't call me, I'll pay Friday", "en", "opt_out", None),
    # -- not opt-outs: a letter t, or an ambiguous "cancel"
    ("That's fine", "en", None, None),
    ("I paid at the A.T.M.", "en", "paid", None),
    ("cancel my order", "en", None, None),
    ("Thanks", "en", None, None),
    ("我特别发愁", "zh-CN", None, None),
    ("stop by the branch tomorrow to pay", "en", "promise", d(12, 3)),
    # -- wrong number
    ("打错了", "zh-CN", "wrong_number", None),
    ("你们发错了", "zh-CN", "wrong_number", None),
    ("我不是本人", "zh-CN", "wrong_number", None),
    ("不认识这个人", "zh-CN", "wrong_number", None),
    ("这不是我的号码", "zh-CN", "wrong_number", None),
    ("wrong number", "en", "wrong_number", None),
    ("Wrong person sorry", "en", "wrong_number", None),
    ("I don't know this person", "en", "wrong_number", None),
    ("you have the wrong number", "en", "wrong_number", None),
    ("This isn't John's phone", "en", "wrong_number", None),
    ("He doesn't live here anymore", "en", "wrong_number", None),
    ("我不是张三", "zh-CN", "wrong_number", None),
    ("我不是故意的", "zh-CN", None, None),
    ("who is this", "en", None, None),
    ("你是谁", "zh-CN", None, None),
    # -- dispute
    ("不是我的", "zh-CN", "dispute", None),
    ("这笔不是我借的", "zh-CN", "dispute", None),
    ("我没有借", "zh-CN", "dispute", None),
    ("我从来没借过钱", "zh-CN", "dispute", None),
    ("not my debt", "en", "dispute", None),
    ("Not mine", "en", "dispute", None),
    ("I don’t owe you anything", "en", "dispute", None),
    ("I never borrowed money from you", "en", "dispute", None),
    ("I dispute this", "en", "dispute", None),
    ("this is fraud", "en", "dispute", None),
    ("不是我的，我已经还了", "zh-CN", "dispute", None),
    # -- paid
    ("已还", "zh-CN", "paid", None),
    ("已还款", "zh-CN", "paid", None),
    ("还了", "zh-CN", "paid", None),
    ("我已经还了", "zh-CN", "paid", None),
    ("已转账", "zh-CN", "paid", None),
    ("刚刚还了，请查收", "zh-CN", "paid", None),
    ("paid", "en", "paid", None),
    ("I paid", "en", "paid", None),
    ("Already paid!", "en", "paid", None),
    ("payment sent", "en", "paid", None),
    ("just paid it", "en", "paid", None),
    ("I've paid in full", "en", "paid", None),
    ("Paid half, the rest on Friday", "en", "paid", None),
    ("已还 paid", "en", "paid", None),
    ("我昨天还了", "zh-CN", "paid", None),
    ("钱已经打过去了", "zh-CN", "paid", None),
    ("I sent $50 today", "en", "paid", None),
    ("It has been paid", "en", "paid", None),
    ("I haven't paid yet", "en", None, None),
    ("我已经还不起了", "zh-CN", None, None),
    # -- promise, with the day
    ("明天还", "zh-CN", "promise", d(12, 3)),
    ("后天还", "zh-CN", "promise", d(12, 4)),
    ("大后天还", "zh-CN", "promise", d(12, 5)),
    ("今天还", "zh-CN", "promise", d(12, 2)),
    ("今晚就还", "zh-CN", "promise", d(12, 2)),
    ("周五还", "zh-CN", "promise", d(12, 4)),
    ("星期五还", "zh-CN", "promise", d(12, 4)),
    ("礼拜五还款", "zh-CN", "promise", d(12, 4)),
    ("周三还", "zh-CN", "promise", d(12, 2)),
    ("周一还", "zh-CN", "promise", d(12, 7)),
    ("下周一还", "zh-CN", "promise", d(12, 7)),
    ("下周五还", "zh-CN", "promise", d(12, 11)),
    ("下周一定还", "zh-CN", "promise", d(12, 7)),
    ("月底还", "zh-CN", "promise", d(12, 31)),
    ("15号还", "zh-CN", "promise", d(12, 15)),
    ("１５号还", "zh-CN", "promise", d(12, 15)),
    ("十五号还", "zh-CN", "promise", d(12, 15)),
    ("1号还", "zh-CN", "promise", d(1, 1, 2027)),
    ("12月5日还", "zh-CN", "promise", d(12, 5)),
    ("12月5号还款", "zh-CN", "promise", d(12, 5)),
    ("11月5日还", "zh-CN", "promise", d(11, 5, 2027)),
    ("三天后还", "zh-CN", "promise", d(12, 5)),
    ("两天后还", "zh-CN", "promise", d(12, 4)),
    ("3天内还清", "zh-CN", "promise", d(12, 5)),
    ("下个月5号还", "zh-CN", "promise", d(1, 5, 2027)),
    ("明天就还了", "zh-CN", "promise", d(12, 3)),
    ("还没还呢，明天还", "zh-CN", "promise", d(12, 3)),
    ("下周还不上，月底还", "zh-CN", "promise", d(12, 31)),
    ("明天吧", "zh-CN", "promise", d(12, 3)),
    ("2026-12-05 还", "zh-CN", "promise", d(12, 5)),
    ("will pay tomorrow", "en", "promise", d(12, 3)),
    ("I'll pay tmrw", "en", "promise", d(12, 3)),
    ("pay on Friday", "en", "promise", d(12, 4)),
    ("I can pay next Friday", "en", "promise", d(12, 11)),
    ("will pay on 12/5", "en", "promise", d(12, 5)),
    ("will pay on 12/5", "en-US", "promise", d(12, 5)),
    ("will pay on 12/5", "en-GB", "promise", d(5, 12, 2027)),
    ("will pay on 25/12", "en", "promise", d(12, 25)),
    ("I will pay on 2026-12-05", "en", "promise", d(12, 5)),
    ("I'll pay next week", "en", "promise", d(12, 7)),
    ("next week", "en", "promise", d(12, 7)),
    ("I can pay in 3 days", "en", "promise", d(12, 5)),
    ("will send the money in three days", "en", "promise", d(12, 5)),
    ("paying at the end of the month", "en", "promise", d(12, 31)),
    ("I'll pay on the 15th", "en", "promise", d(12, 15)),
    ("will pay Dec 10", "en", "promise", d(12, 10)),
    ("tomorrow", "en", "promise", d(12, 3)),
    ("I can't pay today but will pay Friday", "en", "promise", d(12, 4)),
    ("明天 pay", "en", "promise", d(12, 3)),
    ("I'll pay 1/2 tomorrow", "en", "promise", d(12, 3)),  # half, not 2 January
    ("Will be paid by Friday", "en", "promise", d(12, 4)),
    ("下下周一还", "zh-CN", "promise", d(12, 14)),
    ("12月底还", "zh-CN", "promise", d(12, 31)),
    ("年底前还清", "zh-CN", "promise", d(12, 31)),
    # -- promise without a day: the policy's default promise days apply
    ("我会还的", "zh-CN", "promise", None),
    ("尽快还", "zh-CN", "promise", None),
    ("发工资就还", "zh-CN", "promise", None),
    ("I will pay soon", "en", "promise", None),
    ("I'll pay when I get paid", "en", "promise", None),
    ("春节前还", "zh-CN", "promise", None),
    ("will pay on 2025-12-05", "en", "promise", None),  # a day already past: no usable date
    # -- not promises
    ("明天还不上", "zh-CN", None, None),
    ("我不会还", "zh-CN", None, None),
    ("I will not pay", "en", None, None),
    ("I'll call you tomorrow", "en", None, None),
    ("我还在上班", "zh-CN", None, None),
    ("I get paid on friday", "en", None, None),
    ("以前还过", "zh-CN", None, None),
    # -- help
    ("HELP", "en", "info", None),
    ("info", "en", "info", None),
    ("帮助", "zh-CN", "info", None),
    ("START", "en", "opt_in", None),
    ("unstop", "en", "opt_in", None),
    ("客服", "zh-CN", "help", None),
    ("转人工", "zh-CN", "help", None),
    ("怎么还款？", "zh-CN", "help", None),
    ("how do I pay?", "en", "help", None),
    ("how can i pay tomorrow?", "en", "help", None),
    ("call me", "en", "help", None),
    ("call me tomorrow", "en", "help", None),
    ("给我打个电话", "zh-CN", "help", None),
    ("能不能宽限几天", "zh-CN", "help", None),
    ("I lost my job, can I have more time?", "en", "help", None),
    # -- nothing to act on: recorded as engagement by the caller
    ("ok", "en", None, None),
    ("好的", "zh-CN", None, None),
    ("收到", "zh-CN", None, None),
    ("hello", "en", None, None),
    ("", "en", None, None),
    ("   ", "en", None, None),
    ("🙂", "en", None, None),
]


@pytest.mark.parametrize(("text", "locale", "kind", "day"), CASES)
def test_a_reply_reads_as_an_agent_would_read_it(text, locale, kind, day):
    result = classify(text, locale, TODAY)
    if kind is None:
        assert result is None
    else:
        assert result == Classification(kind, day, CLASSIFIER)


def test_the_cases_cover_every_kind_and_both_languages():
    kinds = {kind for _, _, kind, _ in CASES}
    assert kinds == REPLY_KINDS | {None}
    assert set(PRECEDENCE) == REPLY_KINDS


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        # Given Friday, "周五" is today and "下周一" is three days on
        (date(2026, 12, 4), "周五还", date(2026, 12, 4)),
        (date(2026, 12, 4), "下周一还", date(2026, 12, 7)),
        # Given Sunday, "next week" is tomorrow (weeks start on Monday)
        (date(2026, 12, 6), "next week", date(2026, 12, 7)),
        # Given the 31st of a long month, "30号" is next month's 30th
        (date(2026, 1, 31), "30号还", date(2026, 2, 28)),
        (date(2026, 12, 31), "月底还", date(2026, 12, 31)),
        (date(2026, 12, 31), "下个月还", date(2027, 1, 1)),
        # Given late December, 1/5 is next January
        (date(2026, 12, 20), "will pay 1/5", date(2027, 1, 5)),
        # Given March 2027, 29 February is next in 2028; 30 February never is
        (date(2027, 3, 1), "2月29日还", date(2028, 2, 29)),
        (date(2027, 3, 1), "2月30日还", None),
    ],
)
def test_relative_days_resolve_against_today(today, text, expected):
    assert classify(text, "zh-CN", today) == Classification("promise", expected, CLASSIFIER)


def test_chinese_numerals_parse():
    assert [parse_number(n) for n in ["十", "十五", "二十", "二十五", "三十一", "两", "7", "百"]] == [
        10,
        15,
        20,
        25,
        31,
        2,
        7,
        None,
    ]


def test_a_fraction_is_not_a_date():
    assert find_dates(normalise("I can pay 1/2 now"), TODAY) == []


# ---------------------------------------------------------------- properties

#: Characters people put around a keyword; NFKC maps none of them to a letter or digit.
_NOISE = st.text(
    st.sampled_from(list(" \t\n.,!?;:。，！？、…~-_()[]\"'“”‘’「」【】*#　"))
    | st.characters(categories=("Zs", "Po")),
    max_size=6,
).filter(lambda s: not any(unicodedata.category(c)[0] in "LN" for c in normalise(s)))


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


_KEYWORDS = sorted(OPT_OUT_WORDS | {"OPT OUT", "opt-out", "STOP ALL", "TD", "Revoke"})


@given(
    word=st.sampled_from(_KEYWORDS),
    cases=st.lists(st.booleans(), min_size=12, max_size=12),
    wide=st.booleans(),
    before=_NOISE,
    after=_NOISE,
    locale=st.sampled_from(["en", "en-US", "en-GB", "zh-CN", "fr"]),
)
def test_a_bare_opt_out_keyword_is_always_an_opt_out(word, cases, wide, before, after, locale):
    # Given a bare keyword in any case, width and wrapping, then it is an opt-out: the law allows no exception
    cased = "".join(c.upper() if up else c.lower() for c, up in zip(word, cases * 2, strict=False))
    text = before + (_full_width(cased) if wide else cased) + after
    result = classify(text, locale, TODAY)
    assert result is not None and result.kind == "opt_out", text


#: Pieces that reach deep into the tables and the date rules, to be shuffled together.
_FRAGMENTS = [
    "明天", "还", "已", "不", "周五", "下周", "15号", "12/5", "pay", "will", "not", "paid", "stop", "t", "还了",
    "next", "friday", "the", "31st", "月底", "三天后", "2026-02-30", "0/0", "，", ".", " ", "?",
]  # fmt: skip


@given(
    text=st.text(max_size=60) | st.lists(st.sampled_from(_FRAGMENTS), max_size=8).map("".join),
    locale=st.sampled_from(["en", "en-GB", "zh-CN", ""]),
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
)
def test_any_reply_is_classified_deterministically_and_never_promises_the_past(text, locale, today):
    # Given any text, when classified twice, then the answer is the same, valid, and never dated before today
    first = classify(text, locale, today)
    assert first == classify(text, locale, today)
    if first is not None:
        assert first.kind in REPLY_KINDS and first.classifier == CLASSIFIER
        assert first.date is None or (first.kind == "promise" and first.date >= today)


@given(today=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), n=st.integers(1, 31))
def test_a_day_of_the_month_is_the_next_such_day(today, n):
    result = classify(f"{n}号还", "zh-CN", today)
    assert result is not None and result.date is not None
    assert today <= result.date < today + timedelta(days=62)


# ---------------------------------------------------------------- through the plugin manager


def test_the_builtin_classifier_is_wired_through_the_entry_point():
    # Given the installed plugins, when a reply is classified through the hook, then the built-in answers
    pm = make_plugin_manager()
    assert pm.get_plugin("replies") is not None
    assert classify_reply(pm, "退订", "zh-CN", TODAY) == Classification("opt_out", None, "replies")
    assert classify_reply(pm, "明天还", "zh-CN", TODAY) == Classification("promise", d(12, 3), "replies")
    assert classify_reply(pm, "hello", "en", TODAY) is None


def test_a_third_party_classifier_registered_first_wins():
    class LenderWords:
        @hookimpl(tryfirst=True)
        def dunning_classify_reply(self, text, locale, today):
            if text.strip() == "1":  # the lender's IVR-style "reply 1 if you have paid"
                return Classification("paid", None, "lender")
            if "stop" in text.casefold():
                return Classification("help", None, "lender")
            return None

    pm = make_plugin_manager(extra=[LenderWords()])
    # first non-None wins: the lender's answer, even where the built-in would say otherwise
    assert classify_reply(pm, "1", "en", TODAY) == Classification("paid", None, "lender")
    assert classify_reply(pm, "STOP", "en", TODAY) == Classification("help", None, "lender")
    # and where the lender has nothing to say, the built-in still answers
    assert classify_reply(pm, "退订", "zh-CN", TODAY) == Classification("opt_out", None, "replies")
    assert (
        pm.hook.dunning_classify_reply(text="wrong number", locale="en", today=TODAY).kind == "wrong_number"
    )
