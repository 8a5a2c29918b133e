"""The built-in reply classifier for zh-CN and en: keyword tables and a small date parser.

Tables, not a model: every answer can be traced to one line below and
explained to a debtor or a regulator. Both languages are always read, so a
Chinese reply on an en case (or "已还 paid") is still understood; the locale
only decides whether 12/5 is December or May.

When a reply says several things, the kind that binds the lender most wins:
opt_out > opt_in > wrong_number > dispute > paid > promise > info > help. Stopping contact is
the legally binding part of "已还，别再发了" or "不是我的，别发了" (FCC 24-24:
revocation by "any reasonable means"), and a payment is confirmed by the
payment feed, not by a reply. A bare keyword (STOP, T, TD, 退订) is always an
opt-out; in a sentence, an ambiguous word ("cancel my order") is not. An
opt-out carries the channel it names (:mod:`~dunning.plugins.reply_opt_out`).
"""

from __future__ import annotations

import re
from datetime import date

from dunning.core.domain.replies import Classification
from dunning.core.hookspecs import hookimpl
from dunning.plugins.reply_dates import day_first, find_dates
from dunning.plugins.reply_opt_out import OPT_OUT_WORDS, bare, read_opt_out
from dunning.plugins.reply_text import clauses, en, normalise, tokens

__all__ = ["CLASSIFIER", "OPT_OUT_WORDS", "PRECEDENCE", "classify", "dunning_classify_reply"]

#: The name a Classification from this module carries.
CLASSIFIER = "replies"
#: The order in which kinds are tried; the first that matches is the answer.
PRECEDENCE = ("opt_out", "opt_in", "wrong_number", "dispute", "paid", "promise", "info", "help")


def _any(*patterns: re.Pattern[str] | str) -> tuple[re.Pattern[str], ...]:
    """Chinese patterns as plain regexes (no word boundaries in Chinese), English ones already built."""
    return tuple(p if isinstance(p, re.Pattern) else re.compile(p) for p in patterns)


# ---------------------------------------------------------------- wrong number, dispute

#: Common Chinese surnames, to tell "我不是张三" (wrong number) from "我不是故意的".
_SURNAMES = "|".join(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
#: The debtor is not who answered: "打错了", "不是本人", "wrong number"; "who is this" is not one.
_WRONG_NUMBER = _any(
    en(r"wrong\s+(?:number|num|no|#|person|guy|people|phone|contact|individual)|(?:have|got)\s+the\s+wrong"),
    en(r"(?:don'?t|do\s+not|dont|never)\s+(?:know|heard\s+of)\s+(?:(?:this|that|the|any)\s+(?:person|guy|man"
       r"|woman|lady|name|individual|people)|him|her|them|who\s+that\s+is|(?:anyone|anybody|no\s*one)\s+(?:by"
       r"|named|called))"),
    en(r"(?:no\s*one|nobody)\s+(?:here\s+|lives\s+here\s+)?(?:by|named|called|with)\s+(?:that|this|the)\s+name"),
    en(r"not\s+(?:his|her|their|my)\s+(?:number|phone|cell)|(?:number|phone)\s+(?:is\s+)?not\s+mine"
       r"|(?:i'?m|i\s+am)\s+not\s+(?:him|her|them|that\s+person|the\s+person)|just\s+got\s+this\s+number"),
    en(r"(?:this|it)(?:\s+is|'s)(?:n't|\s+not)\s+[a-z]+'s\s+(?:phone|number|cell)|(?:doesn't|does\s+not|don't"
       r"|no\s+longer)\s+(?:live|work)s?\s+here|(?:doesn't|does\s+not|no\s+longer)\s+(?:have|use|own)s?\s+this"),
    # "我不是张三": a surname and a given name, and nothing after
    rf"我不是(?:{_SURNAMES})[\u4e00-\u9fff]{{1,2}}(?<![的了吧啊呢])(?:[吧啊哦呀]*)$",
    r"打错|发错|找错人|认错人|不是本人|不是我本人|本人不是|我不是(?:他|她|机主|本人|你要找的|你们要找的)",
    r"不认识(?:这个|那个|此|该|这位|你说的|你们说的)?(?:人|他|她)|查无此人|没有?这个人|(?:新办|刚办)的(?:号|卡)",
    r"不是(?:我|他|她)的?(?:手机|电话|号)|号码?(?:已经|早就)?换(?:人|主人|了主)|换号|这个号码?(?:已经|早就)?(?:不是|不归)",
)  # fmt: skip
#: The debt itself is contested, so a person must look: "不是我借的", "not my debt", "fraud".
_DISPUTE = _any(
    en(r"not\s+my\s+(?:debt|loan|account|bill|card|balance|charge|problem|responsibility)|not\s+mine"),
    en(r"(?:don'?t|do\s+not|dont|never)\s+owe|owe\s+(?:you\s+)?(?:nothing|no\s+money)"),
    en(r"(?:never|didn'?t|did\s+not|didnt)\s+(?:borrow\w*|(?:took|take)\s+(?:out\s+)?(?:a|any|this|that|the"
       r"|your)\s+(?:loan|credit|money|card)|(?:sign(?:ed)?\s+up|appl(?:y|ied)|open(?:ed)?)\s+(?:for|an?|any)\b)"),
    en(r"disput\w*|fraud\w*|scam\w*|identity\s+theft|stolen\s+identity|(?:this|that|it)\s+is(?:n't|\s+not)\s+me"),
    r"不是我借|不是我的|(?:从来|从)?(?:没有?|未)(?:借(?![口到给])|贷|欠|申请)|不欠|诈骗|骗子|骗人|盗用|冒用|被盗|冒名",
    r"身份被|异议|金额不对|金额有误|账单?有误|不认(?:这|此|该)?笔?账|不承认|不是我(?:申请|办|签|用)的",
)  # fmt: skip

# ---------------------------------------------------------------- paid

#: Said outright: "已还", "已经转账", "刚还", "还清了", "I paid", "payment sent".
_PAID = _any(
    r"已经?(?:还|付|支付|转|缴|交|打款|结清|处理)(?![不没])|刚(?:刚|才)?(?:还|付|转|交|缴|打)(?![不没])",
    r"(?:还|付|转|交|缴)(?:过了|清了|完了)|(?:还款|付款|转账|支付|缴费)(?:成功|完成)|结清了",
    en(r"sent\s+(?:you\s+|u\s+)?(?:the\s+|my\s+|a\s+)?(?:\$\s*\d+(?:[.,]\d+)*|money|funds|payment|transfer)"),
    en(r"paid|payed|transferred|settled|payment\s+(?:was\s+|has\s+been\s+|is\s+)?(?:sent|made|done|completed"
       r"|processed|submitted|went\s+through)|(?:sent|made|submitted|completed)\s+(?:the\s+|a\s+|my\s+)?payment"),
)  # fmt: skip
#: "还了", "转过去了": past only when nothing in the clause points ahead ("明天就还了" is a promise).
_PAID_WEAK = re.compile(
    r"(?<![没不未])(?:还|付|交|缴|转)了(?![解吗么没不])|(?:还款|付款|转账|缴费|打款)了|(?:转|打)过去了"
)
#: Words before "还了" that make it future ("会还了", "下周就还了").
_FUTURE_ZH = re.compile(r"会|要|将|就|再|明|后天|下|周|星期|礼拜|月底|号|天后|以后")
#: "haven't paid", "will be paid", "when I get paid" (a salary) are not payments.
_PAID_BLOCK_EN = re.compile(
    r"(?:n't|(?<![a-z])(?:not|never|yet\s+to|will|shall|gonna|going\s+to|be|get|gets|getting|got|when|once|if"
    r"|until|till|before|want\s+to|need\s+to))(?:\s+[a-z']+){0,2}\s*$|'ll(?:\s+[a-z']+){0,2}\s*$"
)

# ---------------------------------------------------------------- promise, help

#: Paying, in either language; "还是", "还有", "还不上", "交通", "send me" are not.
_VERB = re.compile(
    r"(?<![不没])还(?![是有在没要不得可好行早会])|(?<![不没好])(?:付|交(?!通|流|往|易)|缴|转(?![告发达])|打款|打钱|结清"
    r"|处理|凑)(?![不没])|(?<![a-z])(?:pay(?:ing)?|payment|send(?:ing)?(?!\s+me)|transfer(?:ring)?|settl(?:e|ing)"
    r"|deposit(?:ing)?|wire|cover(?:ing)?\s+(?:it|the|this)|(?:be|get\s+it|have\s+it)\s+paid)(?![a-z])"
)
#: A negation just before an English verb: "can't pay", "will not pay", "unable to send".
_NEGATED_EN = re.compile(
    r"(?:n't|(?<![a-z])(?:not|never|cannot|unable\s+to|no\s+money\s+to|refuse\s+to))(?:\s+[a-z']+){0,2}\s*$"
)
#: "我会还的", "尽快处理", "发工资就还", "I will pay", "I'll send it": a promise without a day.
_MODAL = re.compile(
    r"(?<![不没])(?:会|一定|肯定|尽快|马上|立刻|立即|保证|争取|抓紧|这就|很快|稍后|晚点|晚些|回头|过几天|过段时间|过阵子"
    r"|就|先|准备|打算|计划|想办法|(?<!以)前|后)|(?<![a-z])(?:will|shall|gonna|going\s+to|promise|plan(?:ning)?\s+to"
    r"|intend\s+to|try(?:ing)?\s+to|about\s+to|let\s+me)(?![a-z])|'ll"
)
#: After a verb, these make a promise too: "paying soon", "pay when I get paid".
_SOON = re.compile(r"(?<![a-z])(?:soon|asap|shortly|later|when|once|after|as\s+soon)(?![a-z])")
#: Words that may stand beside a date and still make a promise ("明天吧", "by Friday").
_DATE_FILLERS = frozenset(
    {"by", "on", "until", "till", "before", "ok", "okay", "sure", "i", "will", "ll", "then"}
)
#: The same, for Chinese, one character at a time.
_DATE_FILLER_CHARS = frozenset("吧了啊哦呀呢好的行前之以再就我那嗯可")
#: Questions about paying, which are help, not promises: "how do I pay tomorrow?", "怎么还款".
_HOW_TO_PAY = _any(
    en(r"how\s+(?:do|can|should|could|would)\s+i\s+(?:pay|make|send)|how\s+to\s+pay|where\s+(?:do|can|should)\s+i"
       r"\s+(?:pay|send)|(?:pay|payment)\s+(?:link|options?|methods?|details|plan)"),
    r"怎么还|如何还|怎样还|怎么付|如何付|怎么转|在哪(?:里|儿)?还|还到哪|往哪(?:里|儿)?(?:还|转|付)|还款(?:方式|渠道|账号|链接)",
)  # fmt: skip
#: A reply made only of one of these asks for help (CTIA's HELP keyword and its kin).
HELP_WORDS = frozenset({"help", "info", "information", "menu", "support", "帮助", "客服", "人工", "咨询"})
#: The HELP keyword itself (CTIA): the sender wants the lender's name and contact, nothing more.
INFO_WORDS = frozenset({"help", "info", "information", "帮助"})
#: A reply made only of one of these takes an opt-out back (Twilio's and the carriers' START words).
OPT_IN_WORDS = frozenset({"start", "unstop"})
#: Help asked for in a sentence: a person, a call back, the way to pay, more time.
_HELP = (
    *_HOW_TO_PAY,
    *_any(
        en(r"call\s+me|give\s+me\s+a\s+call|ring\s+me|phone\s+me|(?:speak|talk)\s+(?:to|with)\s+(?:someone|somebody"
           r"|a\s+(?:person|human|real\s+person|manager)|an?\s+(?:agent|operator|representative|rep)|customer)"),
        en(r"customer\s+(?:service|support|care)|need\s+help|help\s+me|can\s+you\s+help|i\s+have\s+a\s+question"
           r"|(?:send|give)\s+me\s+(?:the\s+|a\s+)?(?:link|details|account|number|info)"),
        # asking for time or a plan is a conversation for a person, not a promise
        en(r"more\s+time|extension|extend\s+(?:the|my)|payment\s+plan|instal\w*|hardship"),
        r"帮助|客服|人工|咨询|打给我|给我打个?电话|回个?电话|回电|联系我|有(?:个)?问题|分期|延期|宽限|协商|减免",
    ),
)  # fmt: skip


def _paid(parts: list[str], today: date, dayfirst: bool) -> bool:
    for part in parts:
        for pattern in _PAID:
            if any(not _PAID_BLOCK_EN.search(part[: m.start()]) for m in pattern.finditer(part)):
                return True
        weak = _PAID_WEAK.search(part)
        ahead = any(d.date and d.date > today for d in find_dates(part, today, dayfirst))
        if weak and not ahead and not _FUTURE_ZH.search(part[: weak.start()]):
            return True
    return False


def _verbs(part: str) -> list[int]:
    """Where ``part`` speaks of paying, not counting "can't pay" or "还不上"."""
    return [m.start() for m in _VERB.finditer(part) if not _NEGATED_EN.search(part[: m.start()])]


def _promise(parts: list[str], today: date, dayfirst: bool) -> Classification | None:
    date_only: list[date | None] = []
    promised = False
    for part in parts:
        if any(r.search(part) for r in _HOW_TO_PAY):
            continue
        dates, verbs = find_dates(part, today, dayfirst), _verbs(part)
        if dates and verbs:
            near = min(dates, key=lambda d: min(abs(d.start - v) for v in verbs))
            return Classification("promise", near.date, CLASSIFIER)
        if dates and _only_fillers(part, [(d.start, d.end) for d in dates]):
            date_only.append(dates[0].date)
        modal = [m.end() for m in _MODAL.finditer(part)]
        if any(0 <= v - end <= 20 for v in verbs for end in modal) or (
            verbs and _SOON.search(part, verbs[0])
        ):
            promised = True
    if date_only:
        return Classification("promise", date_only[0], CLASSIFIER)
    return Classification("promise", None, CLASSIFIER) if promised else None


def _only_fillers(part: str, spans: list[tuple[int, int]]) -> bool:
    """Whether nothing but a date and filler words is said: "明天吧", "by Friday"."""
    rest = "".join(" " if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(part))
    return all(
        t in _DATE_FILLERS if t.isascii() else set(t) <= _DATE_FILLER_CHARS
        for t in tokens(rest.replace("'", " "))
    )


def classify(text: str, locale: str, today: date) -> Classification | None:
    """Read one reply; None when it matches no table (the caller still records it as engagement)."""
    norm = normalise(text)
    if not norm:
        return None
    parts, dayfirst = clauses(norm), day_first(locale)
    opt_out = read_opt_out(norm, parts)
    if opt_out is not None:
        return Classification("opt_out", None, CLASSIFIER, opt_out.channel)
    if bare(norm, OPT_IN_WORDS):
        return Classification("opt_in", None, CLASSIFIER)
    for kind, table in (("wrong_number", _WRONG_NUMBER), ("dispute", _DISPUTE)):
        if any(r.search(p) for p in parts for r in table):
            return Classification(kind, None, CLASSIFIER)
    if _paid(parts, today, dayfirst):
        return Classification("paid", None, CLASSIFIER)
    promise = _promise(parts, today, dayfirst)
    if promise is not None:
        return promise
    if bare(norm, INFO_WORDS):
        return Classification("info", None, CLASSIFIER)
    if bare(norm, HELP_WORDS) or any(r.search(p) for p in parts for r in _HELP):
        return Classification("help", None, CLASSIFIER)
    return None


@hookimpl(trylast=True)
def dunning_classify_reply(text: str, locale: str, today: date) -> Classification | None:
    """The built-in classifier answers last, so a lender's own classifier is asked first."""
    return classify(text, locale, today)
