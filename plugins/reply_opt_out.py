"""Opt-outs, and the channel each one names: "stop calling me" stops the calls, not the texts.

A bare keyword (STOP, T, TD, 退订) names no channel: it stops the channel the
reply came on, as the carriers expect. A sentence may name one channel ("stop
texting", "别再打电话"), several ("stop calling and texting"), or every way of
reaching the person ("stop contacting me", "cease and desist", "别再骚扰我").
When a reply names more than one — or names one in one clause and none in
another ("STOP! Stop calling me") — the answer is every channel: a wider stop
is always lawful, a narrower one may not be (FCC 24-24 lets a consumer revoke
consent "by any reasonable means").

Only the clauses that ask to stop are read for channels, and in them a request
for contact ("stop calling and text me instead") names nothing to stop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dunning.core.domain.replies import EVERY_CHANNEL
from dunning.plugins.reply_text import any_of, en, tokens

__all__ = ["CLAUSE_OPT_OUT_WORDS", "FILLERS", "OPT_OUT_WORDS", "OptOut", "bare", "read_opt_out"]

#: A reply made only of one of these (plus fillers) is an opt-out, always: FCC 24-24 and "回T退订".
OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "unsub", "end", "quit", "cancel", "revoke", "optout", "t", "td"}
    | {"回t", "回td", "回复t", "回复td", "退订", "退订短信", "取消", "取消订阅", "停止", "拒收"}
)
#: Inside a longer reply ("STOP. I paid"), a clause of one keyword counts too, but not a lone
#: letter: "A.T.M." is not an opt-out.
CLAUSE_OPT_OUT_WORDS = frozenset(w for w in OPT_OUT_WORDS if len(w) > 2 or not w.isascii())
#: Words that do not change a bare keyword: "stop please", "STOP ALL TEXTS", "T 谢谢".
FILLERS = frozenset(
    {"please", "pls", "plz", "now", "thanks", "thank", "you", "thx", "ty", "it", "just", "ok", "okay"}
    | {"all", "me", "asap", "sms", "text", "texts", "txt", "msg", "msgs", "message", "messages"}
    | {"reminder", "reminders", "谢谢", "请", "麻烦", "好的", "吧", "了", "啊", "呢"}
)

#: The ways of reaching someone a debtor can ask us to stop.
_CONTACT = (
    r"text\w*|txts?|messag\w*|msgs?|sms|call\w*|robo-?calls?|contact\w*|e-?mail\w*|bother\w*|harass\w*"
    r"|spam\w*|notification\w*|notifs?|push(?:es|ing)?|voice\s*mails?|voicemails?"
)
#: The same ways as verbs, for imperatives: "don't call or text me".
_CONTACT_VERB = r"text|txt|message|msg|sms|call|ring|phone|contact|e-?mail|bother|harass|spam|push|notify"
#: Words between "stop" and what is to stop: "stop all the app notifications", "stop sending me".
_STOP_OBJECT = (
    r"all|the|these|those|this|your|ur|with|sending|receiving|getting|me|us|app|in-app|push|phone|robo"
    r"|automated|daily|constant|annoying|collection|reminder|debt"
)
#: Opt-outs said in a sentence: "please stop texting me", "别再发了", "请勿打扰".
_OPT_OUT = any_of(
    en(rf"stop\s+(?:(?:{_STOP_OBJECT})\s+)*(?:{_CONTACT}|sending|reminders?|this|it\s+all)"),
    en(r"(?:please|pls|plz|just|to|you|must|should|gotta|needs?\s+to)\s+stop(?:\s+(?:it|now|this|please))?$"),
    en(rf"(?:don'?t|do\s+not|dont|never)\s+(?:ever\s+|keep\s+|continue\s+(?:to\s+)?)?(?:{_CONTACT_VERB})\w*"
       rf"(?:\s+(?:me|us))?(?:\s*(?:,|/|&|or|and|nor|and/or)\s*(?:{_CONTACT_VERB})\w*)*"
       r"(?:\s+me|\s+us|\s+(?:this|my|our)\s+[a-z]+|\s+again|\s+anymore|\s+any\s+more|(?<!bother)$)"),
    en(rf"quit\s+(?:{_CONTACT})|no\s+more\s+(?:[a-z-]+\s+)?(?:{_CONTACT}|reminders?)|leave\s+me\s+alone"),
    en(rf"(?:don'?t|do\s+not|dont|never)\s+want\s+(?:any\s+)?(?:more\s+)?(?:of\s+)?(?:your\s+|these\s+|the\s+)?"
       rf"(?:[a-z-]+\s+)?(?:{_CONTACT})|(?:don'?t|do\s+not|dont)\s+want\s+to\s+be\s+(?:contacted|called"
       r"|texted|messaged|bothered|harassed|emailed)"),
    en(r"remove\s+(?:me|my\s+(?:number|phone|contact|details))|delete\s+my\s+(?:number|phone|contact|details)"
       r"|take\s+(?:me|my\s+number)\s+off|do[\s-]*not[\s-]*call\s+list|dnc(?:\s+list)?"),
    en(r"unsubscrib\w*|opt(?:ing)?[\s-]*(?:me\s+)?out|revok\w*|cease\s+(?:and\s+desist|(?:all\s+)?contact"
       r"|(?:all\s+)?communication\w*)"),
    en(r"cancel\s+(?:(?:the|these|all|my|your)\s+)*(?:texts?|messages?|sms|reminders?|notifications?"
       r"|subscription|alerts?|calls)|turn\s+off\s+(?:(?:the|these|your|all|app|push)\s+)*(?:notifications?"
       r"|alerts?|push|reminders?|calls|texts|messages)"),
    r"退订|拒收|取消订阅|屏蔽|拉黑|(?:不想|不愿|拒绝)再?(?:收到|接到|接收|接(?![受手]))",
    # "别再发了", "不要再发", "请勿打扰", "不用联系我了"; "特别发愁" and "告别" are not requests
    r"(?<![特区分个告级类识性差辨鉴派离送道惜暂判永辞诀])(?<!(?<!电)话)(?:别|不要|勿|莫|不准|不许|不用|不必|无需|停止|不再)"
    r"(?:再|老是?|总是?|一直|天天|每天)?(?:给我|向我|跟我|对我|往我)?(?:发(?![火愁工财现生展票烧言])"
    r"|打(?:这个|此|我的?)?(?:电话|号码?)|打(?:了|来|给|扰|过来|我)|拨打|呼叫|联系|骚扰|烦|短信|推送|通知|来(?:电|短信|信息|消息))",
    r"(?:关闭|关掉|关了|取消|停掉|停止)(?:app|应用)?的?(?:消息)?(?:推送|通知|提醒)",
    r"删除?(?:我的?)?(?:号码|手机号|电话|信息)|把我的?(?:号码|手机号|电话)删",
)  # fmt: skip

#: The words that name a channel. Tried in this order at each place, so "app messages" is push
#: and "删除我的电话" is every channel, not a call.
_CHANNEL_WORDS = {
    EVERY_CHANNEL: (
        r"contact\w*|communicat\w*|bother\w*|harass\w*|spam\w*|disturb\w*|leave\s+me\s+alone|cease|desist"
        r"|reach\w*\s+(?:out|me)|(?:remove|delete)\s+(?:me|my\s+(?:number|phone|contact|details|info\w*))"
        r"|take\s+(?:me|my\s+number)\s+off",
        r"联系|骚扰|打扰|(?<!麻)烦|删除?(?:我的?)?(?:号码|手机号|电话|信息|个人信息)|把我的?(?:号码|手机号|电话)删"
        r"|任何(?:方式|形式)",
    ),
    "push": (
        r"push\w*|notification\w*|notifs?|pop[\s-]?ups?|(?:in[\s-]?)?app\s+(?:alerts?|messages?|reminders?)",
        r"推送|弹窗|通知栏|(?:app|应用|软件|客户端)的?(?:消息|通知|提醒)|(?:关闭|关掉|关了)(?:消息)?通知",
    ),
    "voice": (
        r"call\w*|robo-?call\w*|phon(?:e|ing)\s+(?:me|us|my)|ring(?:ing)?\s+(?:me|us|my)|voice\s*mails?"
        r"|voicemails?|dial\w*|do[\s-]*not[\s-]*call|dnc",
        r"电话|来电|致电|拨打|呼叫|外呼|语音|打(?:了|来|给|过来|我)",
    ),
    "sms": (r"text\w*|txts?|messag\w*|msgs?|sms\w*|mms", r"短信|简讯|彩信|信息|消息"),
    "email": (r"e-?mail\w*", r"邮件|邮箱|电邮"),
}
_CHANNEL = re.compile(
    "|".join(
        rf"(?P<{'every' if name == EVERY_CHANNEL else name}>(?<![a-z0-9])(?:{latin})(?![a-z0-9])|{chinese})"
        for name, (latin, chinese) in _CHANNEL_WORDS.items()
    )
)
#: Contact asked for, not refused: "text me instead", "call me back", "给我打电话", "短信联系就行".
_REQUEST = re.compile(
    r"(?<![a-z0-9])(?:(?:call|text|txt|message|msg|e-?mail|ring|phone|contact)\s+(?:me|us)"
    r"|(?:just|only|please|keep)\s+(?:call|text|e-?mail|calling|texting|emailing|messaging)\w*"
    r"|(?:texts?|texting|calls?|calling|e-?mails?|messages?)\s+(?:is|are|would\s+be)\s+(?:fine|ok|okay|good|better"
    r"))(?![a-z0-9])"
    r"|给我(?:打个?电话|打|发短信|发信息|回电)|打给我|回个?电话|回电|发短信给我"
    r"|(?:短信|电话|微信|邮件)(?:联系|通知)(?:我)?就(?:行|好|可以)"
)


@dataclass(frozen=True)
class OptOut:
    """An opt-out and the channel it names: None for the channel the reply came on."""

    channel: str | None


def bare(text: str, words: frozenset[str]) -> bool:
    """Whether ``text`` is one of ``words`` once punctuation and fillers are gone ("Stop!", "OPT OUT")."""
    meant = [t for t in tokens(text) if t not in FILLERS]
    return bool(meant) and ("".join(meant) in words or all(t in words for t in meant))


def read_opt_out(text: str, parts: list[str]) -> OptOut | None:
    """The opt-out in a normalised reply and its clauses, or None when it asks nothing to stop."""
    if bare(text, OPT_OUT_WORDS):
        return OptOut(_widest([_named(text, [])]))
    said: list[set[str]] = []
    for part in parts:
        spans = [m.span() for pattern in _OPT_OUT for m in pattern.finditer(part)]
        if spans or bare(part, CLAUSE_OPT_OUT_WORDS):
            said.append(_named(part, spans))
    return OptOut(_widest(said)) if said else None


def _named(part: str, refusals: list[tuple[int, int]]) -> set[str]:
    """The channels an opt-out clause names, leaving out those it asks for ("text me instead")."""
    asked = [
        m.span()
        for m in _REQUEST.finditer(part)
        if not any(a < m.end() and m.start() < b for a, b in refusals)
    ]
    return {
        EVERY_CHANNEL if m.lastgroup == "every" else str(m.lastgroup)
        for m in _CHANNEL.finditer(part)
        if not any(a <= m.start() < b for a, b in asked)
    }


def _widest(said: list[set[str]]) -> str | None:
    """One channel when every opt-out clause names that one; every channel when they name more."""
    named = set().union(*said)
    if not named:
        return None
    if len(named) > 1 or EVERY_CHANNEL in named or any(not channels for channels in said):
        return EVERY_CHANNEL
    return named.pop()
