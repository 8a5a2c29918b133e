"""The built-in reply classifier for zh-CN and en: keyword tables and a small date parser.

Tables, not a model: every answer can be traced to one line below (or in
:mod:`~dunning.plugins.reply_opt_out` and :mod:`~dunning.plugins.reply_holds`)
and explained to a debtor or a regulator. Both languages are always read, so
a Chinese reply on an en case (or "已还 paid") is still understood; the locale
only decides whether 12/5 is December or May.

When a reply says several things, the kind that binds the lender most wins
(``PRECEDENCE``): opt_out > opt_in > deceased > wrong_number > attorney >
bankruptcy > dispute > complaint > paid > promise > hardship > info > help.

- Stopping contact is the legally binding part of "已还，别再发了" or "不是我的，
  别发了" (FCC 24-24: revocation by "any reasonable means"). An opt-out that
  also says the debtor has died, has a lawyer or is bankrupt stops every
  channel, whatever channel it names: none of them may go on.
- A death outranks a wrong number: "我不是机主，机主已去世" and "this isn't his
  phone, he passed away" are about a person who has died, not a stranger.
- A lawyer (FDCPA §1692c(a)(2)) and a bankruptcy stay (11 U.S.C. §362) bind
  the lender before anything else the debtor says about the debt.
- A dispute outranks a complaint: "不是我借的，我要投诉" and "someone used my
  name, I reported it to the police" contest the debt itself, and the
  complaint or police report is its evidence. Both hold the case for a person.
- A payment is only claimed (the payment feed confirms it), so it yields to
  every hold above.
- A promise outranks hardship: the clause with a day and a verb is what the
  debtor offers to do ("can't pay today, will pay Friday", "下周还不上，月底还",
  "没钱，发工资就还"); the hardship beside it is the reason for the delay.
  Hardship alone ("还不上", "I lost my job") holds the case for a person.

A bare keyword (STOP, T, TD, 退订) is always an opt-out; in a sentence, an
ambiguous word ("cancel my order") is not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from dunning.core.domain.replies import EVERY_CHANNEL, Classification
from dunning.core.hookspecs import hookimpl
from dunning.plugins.reply_dates import day_first, find_dates
from dunning.plugins.reply_holds import own_family_died, says
from dunning.plugins.reply_opt_out import OPT_OUT_WORDS, bare, read_opt_out
from dunning.plugins.reply_text import any_of, clauses, en, normalise, tokens

__all__ = ["CLASSIFIER", "OPT_OUT_WORDS", "PRECEDENCE", "classify", "dunning_classify_reply"]

#: The name a Classification from this module carries.
CLASSIFIER = "replies"
#: The order in which kinds are tried; the first that matches is the answer (why: the module docstring).
PRECEDENCE = (
    "opt_out", "opt_in", "deceased", "wrong_number", "attorney", "bankruptcy", "dispute", "complaint", "paid",
    "promise", "hardship", "info", "help",
)  # fmt: skip
#: Holds that forbid contacting the debtor at all: an opt-out that also says one of them stops every channel.
CEASE_KINDS = ("deceased", "attorney", "bankruptcy")


# ---------------------------------------------------------------- wrong number, dispute

#: Common Chinese surnames, to tell "我不是张三" (wrong number) from "我不是故意的".
_SURNAMES = "|".join(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
#: The debtor is not who answered: "打错了", "不是本人", "wrong number"; "who is this" is not one.
_WRONG_NUMBER = any_of(
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
_DISPUTE = any_of(
    en(r"not\s+my\s+(?:debt|loan|account|bill|card|balance|charge|problem|responsibility)|not\s+mine"),
    en(r"(?:don'?t|do\s+not|dont|never)\s+owe|owe\s+(?:you\s+)?(?:nothing|no\s+money)"),
    en(r"(?:never|didn'?t|did\s+not|didnt)\s+(?:borrow\w*|(?:took|take)\s+(?:out\s+)?(?:a|any|this|that|the"
       r"|your)\s+(?:loan|credit|money|card)|(?:sign(?:ed)?\s+up|appl(?:y|ied)|open(?:ed)?)\s+(?:for|an?|any)\b)"),
    en(r"disput\w*|fraud\w*|scam\w*|identity\s+theft|stolen\s+identity|(?:this|that|it)\s+is(?:n't|\s+not)\s+me"),
    r"不是我借|不是我的|(?:从来|从)?(?:没有?|未)(?:借(?![口到给])|贷|欠|申请)|不欠|诈骗|骗子|骗人|盗用|冒用|被盗|冒名",
    r"身份被|异议|金额不对|金额有误|账单?有误|不认(?:这|此|该)?笔?账|不承认|不是我(?:申请|办|签|用)的",
)  # fmt: skip

# ---------------------------------------------------------------- paid

#: Said outright: "已还", "已经转账", "刚还", "还清了", "已扣款", "I paid", "payment sent", "check is in the mail".
_PAID = any_of(
    r"已经?(?:还|付|支付|转|缴|交|打款|结清|处理|扣)(?![不没])|刚(?:刚|才)?(?:还|付|转|交|缴|打)(?![不没])",
    r"(?:还|付|转|交|缴|扣)(?:过了|清了|完了)|(?:还款|付款|转账|支付|缴费|扣款)(?:成功|完成)|结清了",
    r"(?<![没未不])(?:已经?|应该)?(?:到账了|已到账)|(?:自动|系统)(?:扣款|扣)了|已经?被(?:扣|划)",
    en(r"sent\s+(?:you\s+|u\s+)?(?:the\s+|my\s+|a\s+)?(?:\$\s*\d+(?:[.,]\d+)*|money|funds|payment|transfer)"),
    en(r"paid|payed|transferred|settled|payment\s+(?:was\s+|has\s+been\s+|is\s+)?(?:sent|made|done|completed"
       r"|processed|submitted|went\s+through)|(?:sent|made|submitted|completed)\s+(?:the\s+|a\s+|my\s+)?payment"),
    en(r"(?:took|taken)\s+care\s+of\s+(?:it|this|that|the\s+(?:bill|balance|payment|debt|loan))|(?:check|cheque)"
       r"\s+(?:is|was)\s+in\s+the\s+mail|mailed\s+(?:you\s+)?(?:the|a|my)\s+(?:check|cheque|payment)"
       r"|cleared\s+(?:the|my)\s+(?:balance|debt|account|loan)|balance\s+is\s+(?:now\s+)?(?:zero|0|cleared|clear)"
       r"|(?:you|u)\s+(?:already\s+)?(?:took|charged|debited|deducted|withdrew)|autopay\s+(?:went\s+through|took)"),
)  # fmt: skip
#: "还了", "转过去了": past only when nothing in the clause points ahead ("明天就还了" is a promise).
_PAID_WEAK = re.compile(
    r"(?<![没不未])(?:还|付|交|缴|转)了(?![解吗么没不])|(?:还款|付款|转账|缴费|打款)了|(?:转|打)过去了"
)
#: Words before "还了" that make it future ("会还了", "下周就还了").
_FUTURE_ZH = re.compile(r"会|要|将|就|再|明|后天|下|周|星期|礼拜|月底|号|天后|以后")
#: Words that make "就还了" past again: "昨天就还了", "早就还了", "上周就还清了".
_PAST_ZH = re.compile(r"昨|前天|上(?:个|周|星期|礼拜|次)|早就|早已|刚|之前|已经")
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
#: "can't pay until Friday", "won't be able to pay you back before the 15th": a promise of that day.
_NOT_UNTIL = en(
    r"(?:can'?t|cannot|can\s+not|won'?t|unable\s+to|not\s+able\s+to|won'?t\s+be\s+able\s+to)\s+(?:pay|send|transfer"
    r"|settle)(?:\s+(?:it|you|this|that|anything|the\s+[a-z]+))?(?:\s+back)?\s+(?:until|till|til|before)"
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
_HOW_TO_PAY = any_of(
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
#: More time asked for: "can I have more time?", "I need a few days", "能不能宽限几天".
_MORE_TIME = any_of(
    en(r"more\s+time|extension|extend\s+(?:the|my)|(?:a\s+)?(?:few|couple(?:\s+of)?|some)\s+(?:more\s+)?(?:days|weeks)"
       r"|give\s+me\s+(?:some\s+)?time"),
    r"宽限|延期|缓(?:几|两|一)天|晚几天|等几天|缓一缓|缓缓",
)  # fmt: skip
#: Help asked for in a sentence: a person, a call back, the way to pay, more time.
_HELP = (
    *_HOW_TO_PAY,
    *_MORE_TIME,
    *any_of(
        en(r"call\s+me|give\s+me\s+a\s+call|ring\s+me|phone\s+me|(?:speak|talk)\s+(?:to|with)\s+(?:someone|somebody"
           r"|a\s+(?:person|human|real\s+person|manager)|an?\s+(?:agent|operator|representative|rep)|customer)"),
        en(r"customer\s+(?:service|support|care)|need\s+help|help\s+me|can\s+you\s+help|i\s+have\s+a\s+question"
           r"|(?:send|give)\s+me\s+(?:the\s+|a\s+)?(?:link|details|account|number|info)"),
        # asking for time or a plan is a conversation for a person, not a promise
        en(r"payment\s+plan|instal\w*"),
        # a payment the debtor tried to make and could not: a person fixes it
        en(r"(?:can'?t|cannot|unable\s+to)\s+(?:pay\s+(?:online|on\s+(?:the\s+)?(?:app|website|site|line)|via|through"
           r"|with\s+(?:my|a|the|this)\s+card|by\s+card|in\s+the\s+app|using)|log\s*in|login|access\s+(?:my|the)"
           r"|open\s+the\s+(?:link|app))|link\s+(?:is\s+)?(?:broken|not\s+working"
           r"|doesn'?t\s+work)|payment\s+(?:failed|declined|didn'?t\s+go\s+through|won'?t\s+go\s+through)"),
        r"帮助|客服|人工|咨询|打给我|给我打个?电话|回个?电话|回电|联系我|有(?:个)?问题|分期|协商|减免|少还",
        r"(?:还款|支付|付款|扣款|转账)失败|(?:链接|app|应用)打不开|登录不了|登不上",
    ),
)  # fmt: skip


def _paid(parts: list[str], today: date, dayfirst: bool) -> bool:
    for part in parts:
        for pattern in _PAID:
            if any(not _PAID_BLOCK_EN.search(part[: m.start()]) for m in pattern.finditer(part)):
                return True
        weak = _PAID_WEAK.search(part)
        ahead = any(d.date and d.date > today for d in find_dates(part, today, dayfirst))
        before = part[: weak.start()] if weak else ""
        if weak and not ahead and (_PAST_ZH.search(before) or not _FUTURE_ZH.search(before)):
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
        until = _NOT_UNTIL.search(part)
        if until and (later := [d for d in dates if d.end > until.end()]):
            return Classification("promise", later[0].date, CLASSIFIER)
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


@dataclass(frozen=True)
class _Reply:
    """One reply, read once: its normalised text, its clauses and the calendar it speaks in."""

    text: str
    parts: list[str]
    today: date
    dayfirst: bool


#: Reads one kind out of a reply, or None.
Reader = Callable[[_Reply], Classification | None]


def _opt_out(reply: _Reply) -> Classification | None:
    found = read_opt_out(reply.text, reply.parts)
    if found is None:
        return None
    cease = any(_READERS[kind](reply) is not None for kind in CEASE_KINDS)
    return Classification("opt_out", None, CLASSIFIER, EVERY_CHANNEL if cease else found.channel)


def _deceased(reply: _Reply) -> Classification | None:
    """A death, unless it is the speaker's own family's and the speaker goes on to pay or ask for time.

    "my grandma died, I'll pay next week" is a bereaved debtor; "my father passed away" from a
    relative, or "机主已去世", is a debtor who has died.
    """
    if not says("deceased", reply.parts):
        return None
    if own_family_died(reply.parts) and (
        _paid(reply.parts, reply.today, reply.dayfirst)
        or _promise(reply.parts, reply.today, reply.dayfirst)
        or any(r.search(p) for p in reply.parts for r in _MORE_TIME)
    ):
        return None
    return Classification("deceased", None, CLASSIFIER)


def _table(kind: str, table: tuple[re.Pattern[str], ...]) -> Reader:
    def read(reply: _Reply) -> Classification | None:
        hit = any(r.search(p) for p in reply.parts for r in table)
        return Classification(kind, None, CLASSIFIER) if hit else None

    return read


def _hold(kind: str) -> Reader:
    def read(reply: _Reply) -> Classification | None:
        return Classification(kind, None, CLASSIFIER) if says(kind, reply.parts) else None

    return read


def _keyword(kind: str, words: frozenset[str]) -> Reader:
    def read(reply: _Reply) -> Classification | None:
        return Classification(kind, None, CLASSIFIER) if bare(reply.text, words) else None

    return read


def _claimed(reply: _Reply) -> Classification | None:
    found = _paid(reply.parts, reply.today, reply.dayfirst)
    return Classification("paid", None, CLASSIFIER) if found else None


def _help(reply: _Reply) -> Classification | None:
    hit = bare(reply.text, HELP_WORDS) or any(r.search(p) for p in reply.parts for r in _HELP)
    return Classification("help", None, CLASSIFIER) if hit else None


#: How each kind is read; ``PRECEDENCE`` says in which order.
_READERS: dict[str, Reader] = {
    "opt_out": _opt_out,
    "opt_in": _keyword("opt_in", OPT_IN_WORDS),
    "wrong_number": _table("wrong_number", _WRONG_NUMBER),
    "dispute": _table("dispute", _DISPUTE),
    "deceased": _deceased,
    **{kind: _hold(kind) for kind in ("attorney", "bankruptcy", "complaint", "hardship")},
    "paid": _claimed,
    "promise": lambda r: _promise(r.parts, r.today, r.dayfirst),
    "info": _keyword("info", INFO_WORDS),
    "help": _help,
}


def classify(text: str, locale: str, today: date) -> Classification | None:
    """Read one reply; None when it matches no table (the caller still records it as engagement)."""
    norm = normalise(text)
    if not norm:
        return None
    reply = _Reply(norm, clauses(norm), today, day_first(locale))
    for kind in PRECEDENCE:
        found = _READERS[kind](reply)
        if found is not None:
            return found
    return None


@hookimpl(trylast=True)
def dunning_classify_reply(text: str, locale: str, today: date) -> Classification | None:
    """The built-in classifier answers last, so a lender's own classifier is asked first."""
    return classify(text, locale, today)
