"""Debtors' replies: the built-in zh-CN and en classifier, and the classify hook.

Given today is Wednesday 2 December 2026 in the debtor's zone, when a reply
arrives, then it reads as the kind (and promised day) a collections agent would
read, an opt-out stops at least the channels it names, and a bare opt-out
keyword is always an opt-out.
"""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dunning.core.domain.replies import EVERY_CHANNEL, HOLD_KINDS, REPLY_KINDS, Classification, classify_reply
from dunning.core.hookspecs import hookimpl
from dunning.core.plugins import make_plugin_manager
from dunning.plugins.replies import CLASSIFIER, OPT_OUT_WORDS, PRECEDENCE, classify
from dunning.plugins.reply_dates import find_dates, parse_number
from dunning.plugins.reply_opt_out import CLAUSE_OPT_OUT_WORDS
from dunning.plugins.reply_text import normalise

TODAY = date(2026, 12, 2)  # a Wednesday
assert TODAY.weekday() == 2


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


# (reply, locale, kind, channel, promised day) -- kind None: no table matches; channel None: the
# opt-out names no channel (the one the reply came on), "all": every channel
CASES: list[tuple[str, str, str | None, str | None, date | None]] = [
    # -- opt-out: bare keywords, in every spelling a handset produces
    ("STOP", "en", "opt_out", None, None),
    ("ＳＴＯＰ", "en", "opt_out", None, None),
    ("stop.", "en", "opt_out", None, None),
    (" Stop ", "en", "opt_out", None, None),
    ("Stop!!!", "en", "opt_out", None, None),
    ("STOP ALL", "en", "opt_out", None, None),
    ("stopall", "en", "opt_out", None, None),
    ("UNSUBSCRIBE", "en", "opt_out", None, None),
    ("End", "en", "opt_out", None, None),
    ("quit", "en", "opt_out", None, None),
    ("Cancel", "en", "opt_out", None, None),
    ("REVOKE", "en", "opt_out", None, None),
    ("OPT OUT", "en", "opt_out", None, None),
    ("opt-out", "en", "opt_out", None, None),
    ("OPTOUT", "en", "opt_out", None, None),
    ("stop please", "en", "opt_out", None, None),
    ("T", "zh-CN", "opt_out", None, None),
    ("t", "zh-CN", "opt_out", None, None),
    ("Ｔ", "zh-CN", "opt_out", None, None),
    ("td", "zh-CN", "opt_out", None, None),
    ("ＴＤ。", "zh-CN", "opt_out", None, None),
    ("退订", "zh-CN", "opt_out", None, None),
    ("退订。", "zh-CN", "opt_out", None, None),
    ("退订短信", "zh-CN", "opt_out", "sms", None),
    ("回T退订", "zh-CN", "opt_out", None, None),
    ("回复T", "zh-CN", "opt_out", None, None),
    ("退 订", "zh-CN", "opt_out", None, None),
    ("STOP STOP STOP", "en", "opt_out", None, None),
    ("T 谢谢", "zh-CN", "opt_out", None, None),
    ("STOP", "zh-CN", "opt_out", None, None),
    ("退订", "en", "opt_out", None, None),
    # -- opt-out: said in a sentence
    ("please stop texting me", "en", "opt_out", "sms", None),
    ("Stop calling me!", "en", "opt_out", "voice", None),
    ("Don't text me again", "en", "opt_out", "sms", None),
    ("do not contact me", "en", "opt_out", "all", None),
    ("no more messages", "en", "opt_out", "sms", None),
    ("Leave me alone", "en", "opt_out", "all", None),
    ("remove my number from your list", "en", "opt_out", "all", None),
    ("I want to opt out", "en", "opt_out", None, None),
    ("cancel these reminders", "en", "opt_out", None, None),
    ("I revoke my consent", "en", "opt_out", None, None),
    ("别再发了", "zh-CN", "opt_out", None, None),
    ("不要再发", "zh-CN", "opt_out", None, None),
    ("不要再给我发短信了", "zh-CN", "opt_out", "sms", None),
    ("别打了", "zh-CN", "opt_out", "voice", None),
    ("请勿打扰", "zh-CN", "opt_out", "all", None),
    ("不用再联系我了", "zh-CN", "opt_out", "all", None),
    ("我要退订", "zh-CN", "opt_out", None, None),
    ("please stop 别再发了", "en", "opt_out", None, None),
    # -- opt-out wins over everything else
    ("已还，别再发了", "zh-CN", "opt_out", None, None),
    ("不是我的，别发了", "zh-CN", "opt_out", None, None),
    ("STOP. I already paid", "en", "opt_out", None, None),
    # a line of its own is a clause of its own
    ("I already paid\nSTOP", "en", "opt_out", None, None),
    # a full-width comma ends a clause even after a digit
    ("1，停止", "zh-CN", "opt_out", None, None),
    ("wrong number, stop texting", "en", "opt_out", "sms", None),
    ("don't call me, I'll pay Friday", "en", "opt_out", "voice", None),
    # -- opt-out: the channel it names (voice)
    ("stop calling me", "en", "opt_out", "voice", None),
    ("Stop calling", "en", "opt_out", "voice", None),
    ("don't call", "en", "opt_out", "voice", None),
    ("Don't call me anymore", "en", "opt_out", "voice", None),
    ("no more calls", "en", "opt_out", "voice", None),
    ("no more phone calls please", "en", "opt_out", "voice", None),
    ("stop the robocalls", "en", "opt_out", "voice", None),
    ("never call this number again", "en", "opt_out", "voice", None),
    ("put me on your do not call list", "en", "opt_out", "voice", None),
    ("don't keep calling me", "en", "opt_out", "voice", None),
    ("I don't want any more calls", "en", "opt_out", "voice", None),
    ("stop calling me at work", "en", "opt_out", "voice", None),
    ("stop calling me and text me instead", "en", "opt_out", "voice", None),  # texts asked for, not refused
    ("别再给我打电话了", "zh-CN", "opt_out", "voice", None),
    ("别再打电话", "zh-CN", "opt_out", "voice", None),
    ("不要打电话", "zh-CN", "opt_out", "voice", None),
    ("电话别打了", "zh-CN", "opt_out", "voice", None),
    ("不要再打我电话了", "zh-CN", "opt_out", "voice", None),
    ("别老打电话", "zh-CN", "opt_out", "voice", None),
    ("不想再接到你们的电话", "zh-CN", "opt_out", "voice", None),
    ("停止拨打", "zh-CN", "opt_out", "voice", None),
    ("别打电话了，有事发短信", "zh-CN", "opt_out", "voice", None),
    # -- (sms)
    ("stop texting", "en", "opt_out", "sms", None),
    ("STOP TEXTS", "en", "opt_out", "sms", None),
    ("no more texts", "en", "opt_out", "sms", None),
    ("no more text messages", "en", "opt_out", "sms", None),
    ("stop sending me texts", "en", "opt_out", "sms", None),
    ("don't message me", "en", "opt_out", "sms", None),
    ("I want to opt out of texts", "en", "opt_out", "sms", None),
    ("stop texting me, call me if you need to", "en", "opt_out", "sms", None),
    ("别发短信", "zh-CN", "opt_out", "sms", None),
    ("不要再发短信", "zh-CN", "opt_out", "sms", None),
    ("短信别再发了", "zh-CN", "opt_out", "sms", None),
    ("别再给我发信息了", "zh-CN", "opt_out", "sms", None),
    ("不要再发消息了", "zh-CN", "opt_out", "sms", None),
    ("麻烦不要再发短信了", "zh-CN", "opt_out", "sms", None),  # 麻烦 is "please", not "bother me"
    # -- (push)
    ("stop the notifications", "en", "opt_out", "push", None),
    ("stop the app notifications", "en", "opt_out", "push", None),
    ("turn off the push notifications", "en", "opt_out", "push", None),
    ("no more push notifications", "en", "opt_out", "push", None),
    ("stop the push", "en", "opt_out", "push", None),
    ("别推送了", "zh-CN", "opt_out", "push", None),
    ("关闭推送", "zh-CN", "opt_out", "push", None),
    ("不要再推送了", "zh-CN", "opt_out", "push", None),
    ("关掉app通知", "zh-CN", "opt_out", "push", None),
    ("取消推送", "zh-CN", "opt_out", "push", None),
    # -- (every channel: a cease)
    ("stop all contact", "en", "opt_out", "all", None),
    ("stop contacting me", "en", "opt_out", "all", None),
    ("cease and desist", "en", "opt_out", "all", None),
    ("Cease and desist all communication", "en", "opt_out", "all", None),
    ("stop harassing me", "en", "opt_out", "all", None),
    ("stop bothering me", "en", "opt_out", "all", None),
    ("I don't want to be contacted", "en", "opt_out", "all", None),
    ("不要再联系我", "zh-CN", "opt_out", "all", None),
    ("别再联系我", "zh-CN", "opt_out", "all", None),
    ("别再骚扰我", "zh-CN", "opt_out", "all", None),
    ("不要再打扰我", "zh-CN", "opt_out", "all", None),
    ("别烦我", "zh-CN", "opt_out", "all", None),
    # -- (two channels named: every channel, the safer stop)
    ("stop calling and texting", "en", "opt_out", "all", None),
    ("stop calling or texting me", "en", "opt_out", "all", None),
    ("don't call or text me", "en", "opt_out", "all", None),
    ("no more calls or texts", "en", "opt_out", "all", None),
    ("stop texting. stop calling", "en", "opt_out", "all", None),
    ("stop the texts and the notifications", "en", "opt_out", "all", None),
    # the bare STOP stands for the channel it came on
    ("STOP! Stop calling me!", "en", "opt_out", "all", None),
    ("别再打电话和发短信了", "zh-CN", "opt_out", "all", None),
    ("电话短信都别再发了", "zh-CN", "opt_out", "all", None),
    ("别打电话，也别发短信", "zh-CN", "opt_out", "all", None),
    ("退订，别打电话了", "zh-CN", "opt_out", "all", None),
    # -- (a channel dunning may not have)
    ("stop emailing me", "en", "opt_out", "email", None),
    # -- (a lawyer, a bankruptcy or a death beside any opt-out: nobody may be contacted at all)
    ("I have a lawyer, stop texting me", "en", "opt_out", "all", None),
    ("I filed chapter 7. STOP", "en", "opt_out", "all", None),
    ("机主已去世，别再发短信了", "zh-CN", "opt_out", "all", None),
    ("我请了律师，别再打电话了", "zh-CN", "opt_out", "all", None),
    # -- not opt-outs: a letter t, or an ambiguous "cancel"
    ("That's fine", "en", None, None, None),
    ("I paid at the A.T.M.", "en", "paid", None, None),
    ("cancel my order", "en", None, None, None),
    ("Thanks", "en", None, None, None),
    ("我特别发愁", "zh-CN", None, None, None),
    ("stop by the branch tomorrow to pay", "en", "promise", None, d(12, 3)),
    # -- wrong number
    ("打错了", "zh-CN", "wrong_number", None, None),
    ("你们发错了", "zh-CN", "wrong_number", None, None),
    ("我不是本人", "zh-CN", "wrong_number", None, None),
    ("不认识这个人", "zh-CN", "wrong_number", None, None),
    ("这不是我的号码", "zh-CN", "wrong_number", None, None),
    ("wrong number", "en", "wrong_number", None, None),
    ("Wrong person sorry", "en", "wrong_number", None, None),
    ("I don't know this person", "en", "wrong_number", None, None),
    ("you have the wrong number", "en", "wrong_number", None, None),
    ("This isn't John's phone", "en", "wrong_number", None, None),
    ("He doesn't live here anymore", "en", "wrong_number", None, None),
    ("我不是张三", "zh-CN", "wrong_number", None, None),
    ("我不是故意的", "zh-CN", None, None, None),
    ("who is this", "en", None, None, None),
    ("你是谁", "zh-CN", None, None, None),
    # -- dispute
    ("不是我的", "zh-CN", "dispute", None, None),
    ("这笔不是我借的", "zh-CN", "dispute", None, None),
    ("我没有借", "zh-CN", "dispute", None, None),
    ("我从来没借过钱", "zh-CN", "dispute", None, None),
    ("not my debt", "en", "dispute", None, None),
    ("Not mine", "en", "dispute", None, None),
    ("I don’t owe you anything", "en", "dispute", None, None),
    ("I never borrowed money from you", "en", "dispute", None, None),
    ("I dispute this", "en", "dispute", None, None),
    ("this is fraud", "en", "dispute", None, None),
    ("不是我的，我已经还了", "zh-CN", "dispute", None, None),
    # -- deceased
    ("he passed away", "en", "deceased", None, None),
    ("She died last month", "en", "deceased", None, None),
    ("my father is deceased", "en", "deceased", None, None),
    ("My husband passed away in October", "en", "deceased", None, None),
    ("The account holder died", "en", "deceased", None, None),
    ("He's dead", "en", "deceased", None, None),
    ("sorry, my mom passed", "en", "deceased", None, None),
    ("I'm handling my late father's estate", "en", "deceased", None, None),
    ("she is no longer with us", "en", "deceased", None, None),
    ("I can send you the death certificate tomorrow", "en", "deceased", None, None),
    ("this was my wife's phone, she died", "en", "deceased", None, None),
    ("I'm not him, he passed away in May", "en", "deceased", None, None),  # a death, not a stranger
    ("my phone died", "en", None, None, None),
    ("I almost died laughing", "en", None, None, None),
    ("I'm dead tired", "en", None, None, None),
    ("he passed the exam", "en", None, None, None),
    ("he hasn't passed away", "en", None, None, None),
    ("机主已去世", "zh-CN", "deceased", None, None),
    ("他过世了", "zh-CN", "deceased", None, None),
    ("人已经不在了", "zh-CN", "deceased", None, None),
    ("我爸去年去世了", "zh-CN", "deceased", None, None),
    ("她已经离世了", "zh-CN", "deceased", None, None),
    ("我老公上个月死了", "zh-CN", "deceased", None, None),
    ("借款人已经身故", "zh-CN", "deceased", None, None),
    ("他早就死了", "zh-CN", "deceased", None, None),
    ("我是他女儿，我爸已经过世了", "zh-CN", "deceased", None, None),
    ("机主已经不在人世了", "zh-CN", "deceased", None, None),
    ("人没了", "zh-CN", "deceased", None, None),
    ("我不是机主，机主已去世", "zh-CN", "deceased", None, None),  # a death outranks a wrong number
    ("累死了", "zh-CN", None, None, None),
    ("笑死了", "zh-CN", None, None, None),
    ("他不在家", "zh-CN", None, None, None),
    ("他没有去世", "zh-CN", None, None, None),
    ("烦死了，别发了", "zh-CN", "opt_out", None, None),
    ("他没了工作", "zh-CN", "hardship", None, None),
    # -- attorney
    ("I have a lawyer", "en", "attorney", None, None),
    ("talk to my attorney", "en", "attorney", None, None),
    ("My lawyer will contact you", "en", "attorney", None, None),
    ("I've hired an attorney", "en", "attorney", None, None),
    ("I am represented by counsel", "en", "attorney", None, None),
    ("Please direct all communication to my attorney", "en", "attorney", None, None),
    ("contact my lawyer", "en", "attorney", None, None),
    ("I'm getting a lawyer", "en", "attorney", None, None),
    ("my solicitor is handling this", "en", "attorney", None, None),
    ("I spoke to a lawyer about this debt", "en", "attorney", None, None),
    ("I have a lawyer, it's not my debt", "en", "attorney", None, None),  # a lawyer outranks a dispute
    ("I am a lawyer", "en", None, None, None),
    ("I work as an attorney at a bank", "en", None, None, None),
    ("I don't have a lawyer", "en", None, None, None),
    ("my lawyer friend says this is illegal", "en", None, None, None),
    ("do I need a lawyer?", "en", None, None, None),
    ("I can't afford a lawyer", "en", "hardship", None, None),
    ("我请了律师", "zh-CN", "attorney", None, None),
    ("找我的律师", "zh-CN", "attorney", None, None),
    ("律师会联系你们", "zh-CN", "attorney", None, None),
    ("有事跟我律师谈", "zh-CN", "attorney", None, None),
    ("我已经委托律师处理了", "zh-CN", "attorney", None, None),
    ("这件事交给律师了", "zh-CN", "attorney", None, None),
    ("我的律师会给你们发律师函", "zh-CN", "attorney", None, None),
    ("请联系我的代理律师", "zh-CN", "attorney", None, None),
    ("我咨询过律师了", "zh-CN", "attorney", None, None),
    ("律师已经在处理了", "zh-CN", "attorney", None, None),
    ("我是律师", "zh-CN", None, None, None),
    ("我在律师事务所上班", "zh-CN", None, None, None),
    ("我没请律师", "zh-CN", None, None, None),
    ("你们的律师函我收到了", "zh-CN", None, None, None),
    ("不需要律师", "zh-CN", None, None, None),
    # -- bankruptcy
    ("I filed for bankruptcy", "en", "bankruptcy", None, None),
    ("I'm bankrupt", "en", "bankruptcy", None, None),
    ("we filed chapter 13", "en", "bankruptcy", None, None),
    ("Chapter 7", "en", "bankruptcy", None, None),
    ("I have filed for chapter 7 bankruptcy", "en", "bankruptcy", None, None),
    ("I've been declared bankrupt", "en", "bankruptcy", None, None),
    ("this debt is included in my bankruptcy", "en", "bankruptcy", None, None),
    ("my bankruptcy case number is 24-10001", "en", "bankruptcy", None, None),
    ("the debt was discharged in bankruptcy", "en", "bankruptcy", None, None),
    ("there is an automatic stay", "en", "bankruptcy", None, None),
    ("I went bankrupt last year", "en", "bankruptcy", None, None),
    ("I'm not bankrupt", "en", None, None, None),
    ("I don't want to file for bankruptcy", "en", None, None, None),
    ("you're going to bankrupt me", "en", None, None, None),
    ("my company went bankrupt", "en", "hardship", None, None),  # the employer's, not the debtor's
    ("I might have to file for bankruptcy", "en", "hardship", None, None),
    ("申请破产", "zh-CN", "bankruptcy", None, None),
    ("个人破产", "zh-CN", "bankruptcy", None, None),
    ("我已经申请破产了", "zh-CN", "bankruptcy", None, None),
    ("我破产了", "zh-CN", "bankruptcy", None, None),
    ("法院已经宣告我破产", "zh-CN", "bankruptcy", None, None),
    ("正在走个人破产程序", "zh-CN", "bankruptcy", None, None),
    ("我在深圳申请了个人破产", "zh-CN", "bankruptcy", None, None),
    ("破产管理人会联系你们", "zh-CN", "bankruptcy", None, None),
    ("已进入破产清算", "zh-CN", "bankruptcy", None, None),
    ("我们已经申请破产保护", "zh-CN", "bankruptcy", None, None),
    ("我没有破产", "zh-CN", None, None, None),
    ("不想申请破产", "zh-CN", None, None, None),
    ("你们想让我破产吗", "zh-CN", None, None, None),
    ("公司破产了，我失业了", "zh-CN", "hardship", None, None),
    # -- complaint
    ("I will complain to the CFPB", "en", "complaint", None, None),
    ("I reported you to the regulator", "en", "complaint", None, None),
    ("I'm filing a complaint with the CFPB", "en", "complaint", None, None),
    ("I'm calling the police", "en", "complaint", None, None),
    ("I'll report this to the attorney general", "en", "complaint", None, None),
    ("I've filed a complaint", "en", "complaint", None, None),
    ("See you in court", "en", "complaint", None, None),
    ("I'm going to sue you", "en", "complaint", None, None),
    ("reported you to the BBB", "en", "complaint", None, None),
    ("I made a police report", "en", "complaint", None, None),
    ("this is harassment, I'm contacting the FTC", "en", "complaint", None, None),
    ("no complaints", "en", None, None, None),
    ("I'm not complaining", "en", None, None, None),
    ("I checked my credit report", "en", None, None, None),
    ("I won't report you", "en", None, None, None),
    ("I don't want to complain", "en", None, None, None),
    ("not my debt, I reported it to the police", "en", "dispute", None, None),  # the report is the evidence
    ("我已经投诉到金融监管局", "zh-CN", "complaint", None, None),
    ("投诉到银保监会", "zh-CN", "complaint", None, None),
    ("打12378投诉", "zh-CN", "complaint", None, None),
    ("报警了", "zh-CN", "complaint", None, None),
    ("去消协投诉", "zh-CN", "complaint", None, None),
    ("我要举报你们", "zh-CN", "complaint", None, None),
    ("再打我就报警", "zh-CN", "complaint", None, None),
    ("我会向人民银行反映", "zh-CN", "complaint", None, None),
    ("已经在黑猫投诉上投诉你们了", "zh-CN", "complaint", None, None),
    ("我去法院起诉你们", "zh-CN", "complaint", None, None),
    ("我不会投诉的", "zh-CN", None, None, None),
    ("没有投诉", "zh-CN", None, None, None),
    ("我是警察", "zh-CN", None, None, None),
    ("你们起诉我吧", "zh-CN", None, None, None),
    ("我在派出所上班", "zh-CN", None, None, None),
    ("不是我借的，我要投诉", "zh-CN", "dispute", None, None),  # the debt itself is contested
    ("有人冒用我身份借的，已经报警了", "zh-CN", "dispute", None, None),
    # -- paid
    ("已还", "zh-CN", "paid", None, None),
    ("已还款", "zh-CN", "paid", None, None),
    ("还了", "zh-CN", "paid", None, None),
    ("我已经还了", "zh-CN", "paid", None, None),
    ("已转账", "zh-CN", "paid", None, None),
    ("刚刚还了，请查收", "zh-CN", "paid", None, None),
    ("paid", "en", "paid", None, None),
    ("I paid", "en", "paid", None, None),
    ("Already paid!", "en", "paid", None, None),
    ("payment sent", "en", "paid", None, None),
    ("just paid it", "en", "paid", None, None),
    ("I've paid in full", "en", "paid", None, None),
    ("Paid half, the rest on Friday", "en", "paid", None, None),
    ("已还 paid", "en", "paid", None, None),
    ("我昨天还了", "zh-CN", "paid", None, None),
    ("钱已经打过去了", "zh-CN", "paid", None, None),
    ("I sent $50 today", "en", "paid", None, None),
    ("It has been paid", "en", "paid", None, None),
    ("I already paid", "en", "paid", None, None),
    ("I paid it off last week", "en", "paid", None, None),
    ("I took care of it yesterday", "en", "paid", None, None),
    ("the check is in the mail", "en", "paid", None, None),
    ("you already took the money from my account", "en", "paid", None, None),
    ("my balance is zero", "en", "paid", None, None),
    ("已扣款", "zh-CN", "paid", None, None),
    ("我昨天就还了", "zh-CN", "paid", None, None),
    ("早就还了", "zh-CN", "paid", None, None),
    ("上周就还了", "zh-CN", "paid", None, None),
    ("钱应该已经到账了", "zh-CN", "paid", None, None),
    ("系统自动扣款了", "zh-CN", "paid", None, None),
    ("还没到账", "zh-CN", None, None, None),
    ("I lost my job, I already paid half", "en", "paid", None, None),  # a claimed payment outranks hardship
    (
        "已经还了，再打电话我就投诉",
        "zh-CN",
        "complaint",
        None,
        None,
    ),  # a complaint outranks a claimed payment
    ("I haven't paid yet", "en", None, None, None),
    # "can no longer afford to repay" is hardship, not nothing: a person should hear it
    ("我已经还不起了", "zh-CN", "hardship", None, None),
    # -- promise, with the day
    ("明天还", "zh-CN", "promise", None, d(12, 3)),
    ("后天还", "zh-CN", "promise", None, d(12, 4)),
    ("大后天还", "zh-CN", "promise", None, d(12, 5)),
    ("今天还", "zh-CN", "promise", None, d(12, 2)),
    ("今晚就还", "zh-CN", "promise", None, d(12, 2)),
    ("周五还", "zh-CN", "promise", None, d(12, 4)),
    ("星期五还", "zh-CN", "promise", None, d(12, 4)),
    ("礼拜五还款", "zh-CN", "promise", None, d(12, 4)),
    ("周三还", "zh-CN", "promise", None, d(12, 2)),
    ("周一还", "zh-CN", "promise", None, d(12, 7)),
    ("下周一还", "zh-CN", "promise", None, d(12, 7)),
    ("下周五还", "zh-CN", "promise", None, d(12, 11)),
    ("下周一定还", "zh-CN", "promise", None, d(12, 7)),
    ("月底还", "zh-CN", "promise", None, d(12, 31)),
    ("15号还", "zh-CN", "promise", None, d(12, 15)),
    ("１５号还", "zh-CN", "promise", None, d(12, 15)),
    ("十五号还", "zh-CN", "promise", None, d(12, 15)),
    ("1号还", "zh-CN", "promise", None, d(1, 1, 2027)),
    ("12月5日还", "zh-CN", "promise", None, d(12, 5)),
    ("12月5号还款", "zh-CN", "promise", None, d(12, 5)),
    ("11月5日还", "zh-CN", "promise", None, d(11, 5, 2027)),
    ("三天后还", "zh-CN", "promise", None, d(12, 5)),
    ("两天后还", "zh-CN", "promise", None, d(12, 4)),
    ("3天内还清", "zh-CN", "promise", None, d(12, 5)),
    ("下个月5号还", "zh-CN", "promise", None, d(1, 5, 2027)),
    ("明天就还了", "zh-CN", "promise", None, d(12, 3)),
    ("还没还呢，明天还", "zh-CN", "promise", None, d(12, 3)),
    ("下周还不上，月底还", "zh-CN", "promise", None, d(12, 31)),
    ("明天吧", "zh-CN", "promise", None, d(12, 3)),
    ("2026-12-05 还", "zh-CN", "promise", None, d(12, 5)),
    ("will pay tomorrow", "en", "promise", None, d(12, 3)),
    ("I'll pay tmrw", "en", "promise", None, d(12, 3)),
    ("pay on Friday", "en", "promise", None, d(12, 4)),
    ("I can pay next Friday", "en", "promise", None, d(12, 11)),
    ("will pay on 12/5", "en", "promise", None, d(12, 5)),
    ("will pay on 12/5", "en-US", "promise", None, d(12, 5)),
    ("will pay on 12/5", "en-GB", "promise", None, d(5, 12, 2027)),
    ("will pay on 25/12", "en", "promise", None, d(12, 25)),
    ("I will pay on 2026-12-05", "en", "promise", None, d(12, 5)),
    ("I'll pay next week", "en", "promise", None, d(12, 7)),
    ("next week", "en", "promise", None, d(12, 7)),
    ("I can pay in 3 days", "en", "promise", None, d(12, 5)),
    ("will send the money in three days", "en", "promise", None, d(12, 5)),
    ("paying at the end of the month", "en", "promise", None, d(12, 31)),
    ("I'll pay on the 15th", "en", "promise", None, d(12, 15)),
    ("will pay Dec 10", "en", "promise", None, d(12, 10)),
    ("tomorrow", "en", "promise", None, d(12, 3)),
    ("I can't pay today but will pay Friday", "en", "promise", None, d(12, 4)),
    ("明天 pay", "en", "promise", None, d(12, 3)),
    ("I'll pay 1/2 tomorrow", "en", "promise", None, d(12, 3)),  # half, not 2 January
    ("Will be paid by Friday", "en", "promise", None, d(12, 4)),
    ("下下周一还", "zh-CN", "promise", None, d(12, 14)),
    ("12月底还", "zh-CN", "promise", None, d(12, 31)),
    ("年底前还清", "zh-CN", "promise", None, d(12, 31)),
    ("can't pay today, will pay Friday", "en", "promise", None, d(12, 4)),
    ("I can't pay until Friday", "en", "promise", None, d(12, 4)),
    ("I won't be able to pay you back until the 15th", "en", "promise", None, d(12, 15)),
    ("I lost my job but I will pay next week", "en", "promise", None, d(12, 7)),
    ("实在没钱，下个月再还", "zh-CN", "promise", None, d(1, 1, 2027)),
    # -- promise without a day: the policy's default promise days apply
    ("我会还的", "zh-CN", "promise", None, None),
    ("尽快还", "zh-CN", "promise", None, None),
    ("发工资就还", "zh-CN", "promise", None, None),
    ("I will pay soon", "en", "promise", None, None),
    ("I'll pay when I get paid", "en", "promise", None, None),
    ("春节前还", "zh-CN", "promise", None, None),
    ("will pay on 2025-12-05", "en", "promise", None, None),  # a day already past: no usable date
    ("没钱，发工资就还", "zh-CN", "promise", None, None),  # the promise is the answer; no money is why
    # -- not promises
    ("明天还不上", "zh-CN", "hardship", None, None),  # "can't pay tomorrow": no promise, and unable to pay
    ("我不会还", "zh-CN", None, None, None),
    ("I will not pay", "en", None, None, None),
    ("I'll call you tomorrow", "en", None, None, None),
    ("我还在上班", "zh-CN", None, None, None),
    ("I get paid on friday", "en", None, None, None),
    ("以前还过", "zh-CN", None, None, None),
    # -- hardship: unable to pay, and no promise beside it
    ("I can't pay", "en", "hardship", None, None),
    ("I lost my job", "en", "hardship", None, None),
    ("no money", "en", "hardship", None, None),
    ("I'm unable to pay", "en", "hardship", None, None),
    ("medical bills", "en", "hardship", None, None),
    ("I was laid off last week", "en", "hardship", None, None),
    ("I don't have the money right now", "en", "hardship", None, None),
    ("I'm in the hospital", "en", "hardship", None, None),
    ("I can't afford this", "en", "hardship", None, None),
    ("I'm struggling financially", "en", "hardship", None, None),
    ("I'm unemployed", "en", "hardship", None, None),
    ("I can't pay today", "en", "hardship", None, None),
    ("It's not that I can't pay", "en", None, None, None),
    ("I'm sick of these messages", "en", None, None, None),
    ("I can't wait to pay this off", "en", None, None, None),
    ("还不上", "zh-CN", "hardship", None, None),
    ("没钱还", "zh-CN", "hardship", None, None),
    ("实在没钱", "zh-CN", "hardship", None, None),
    ("失业了", "zh-CN", "hardship", None, None),
    ("我现在真的还不起", "zh-CN", "hardship", None, None),
    ("最近手头紧", "zh-CN", "hardship", None, None),
    ("生病住院了，没钱", "zh-CN", "hardship", None, None),
    ("公司倒闭了", "zh-CN", "hardship", None, None),
    ("被裁员了，没有收入", "zh-CN", "hardship", None, None),
    ("家里困难，实在拿不出钱", "zh-CN", "hardship", None, None),
    ("还不上，能不能分期", "zh-CN", "hardship", None, None),  # hardship outranks a request for a plan
    ("不是没钱", "zh-CN", None, None, None),
    ("我没有失业", "zh-CN", None, None, None),
    ("还不了解情况", "zh-CN", None, None, None),
    ("钱包丢了", "zh-CN", None, None, None),
    # -- help
    ("HELP", "en", "info", None, None),
    ("info", "en", "info", None, None),
    ("帮助", "zh-CN", "info", None, None),
    ("START", "en", "opt_in", None, None),
    ("unstop", "en", "opt_in", None, None),
    ("客服", "zh-CN", "help", None, None),
    ("转人工", "zh-CN", "help", None, None),
    ("怎么还款？", "zh-CN", "help", None, None),
    ("how do I pay?", "en", "help", None, None),
    ("how can i pay tomorrow?", "en", "help", None, None),
    ("call me", "en", "help", None, None),
    ("call me tomorrow", "en", "help", None, None),
    ("给我打个电话", "zh-CN", "help", None, None),
    ("能不能宽限几天", "zh-CN", "help", None, None),
    # losing a job is hardship, which outranks a request for time: the agent sees why
    ("I lost my job, can I have more time?", "en", "hardship", None, None),
    ("I can't pay online, the link is broken", "en", "help", None, None),
    ("扣款失败", "zh-CN", "help", None, None),
    ("还款失败了怎么办", "zh-CN", "help", None, None),
    # -- nothing to act on: recorded as engagement by the caller
    ("ok", "en", None, None, None),
    ("好的", "zh-CN", None, None, None),
    ("收到", "zh-CN", None, None, None),
    ("hello", "en", None, None, None),
    ("", "en", None, None, None),
    ("   ", "en", None, None, None),
    ("🙂", "en", None, None, None),
]


@pytest.mark.parametrize(("text", "locale", "kind", "channel", "day"), CASES)
def test_a_reply_reads_as_an_agent_would_read_it(text, locale, kind, channel, day):
    result = classify(text, locale, TODAY)
    if kind is None:
        assert result is None
    else:
        assert result == Classification(kind, day, CLASSIFIER, channel)


def test_the_cases_cover_every_kind_channel_and_both_languages():
    kinds = {kind for _, _, kind, _, _ in CASES}
    assert kinds == REPLY_KINDS | {None}
    assert set(PRECEDENCE) == REPLY_KINDS and len(PRECEDENCE) == len(REPLY_KINDS)
    assert {channel for *_, channel, _ in CASES} == {None, "sms", "voice", "push", "email", EVERY_CHANNEL}
    # every kind that holds a case is shown in both languages, with look-alikes beside it
    for kind in HOLD_KINDS:
        for language in ("en", "zh"):
            rows = [text for text, locale, k, _, _ in CASES if k == kind and locale.startswith(language)]
            assert len(rows) >= 10, (kind, language, len(rows))


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


#: Keywords that stand alone as a clause of a longer reply (a lone letter T does not: "A.T.M.").
_CLAUSE_KEYWORDS = [*sorted(CLAUSE_OPT_OUT_WORDS), "OPT OUT", "Stop"]
#: What ends a clause, whatever precedes or follows it.
_BREAKS = st.sampled_from(["。", "！", "？", "；", "，", "、", ". ", "! ", "? ", "; ", ", ", "\n", "\r\n"])
#: Everything the table says, and anything at all.
_ANY_REPLY = st.sampled_from([text for text, *_ in CASES]) | st.text(max_size=30)


@given(
    word=st.sampled_from(_CLAUSE_KEYWORDS),
    before=_ANY_REPLY,
    after=_ANY_REPLY,
    breaks=st.tuples(_BREAKS, _BREAKS),
)
def test_a_keyword_standing_as_its_own_clause_is_always_an_opt_out(word, before, after, breaks):
    # Given any reply with a bare keyword as one of its clauses ("I paid. STOP"), then it is an opt-out
    text = before + breaks[0] + word + breaks[1] + after
    result = classify(text, "en", TODAY)
    assert result is not None and result.kind == "opt_out", text


#: Opt-outs that name channels, with the channels they name.
_NAMING = [
    ("stop calling me", "voice"), ("don't call", "voice"), ("no more calls", "voice"),
    ("Don't call me again", "voice"), ("stop texting me", "sms"), ("no more texts", "sms"),
    ("Don't message me", "sms"), ("stop sending me texts", "sms"), ("stop the app notifications", "push"),
    ("turn off the push notifications", "push"), ("no more push", "push"),
    ("stop emailing me", "email"), ("stop contacting me", "all"), ("leave me alone", "all"),
    ("cease and desist", "all"), ("stop harassing me", "all"), ("do not contact me", "all"),
    ("别再给我打电话了", "voice"), ("不要打电话", "voice"), ("别打了", "voice"), ("电话别打了", "voice"),
    ("别发短信", "sms"), ("不要再发短信", "sms"), ("短信别再发了", "sms"), ("别推送了", "push"), ("关闭推送", "push"),
    ("不要再联系我", "all"), ("别再骚扰我", "all"), ("不要再打扰我", "all"), ("别烦我", "all"),
]  # fmt: skip
#: The same, two at a time in one clause: "stop calling and texting", "别再打电话和发短信了".
_GERUNDS = {
    "calling": "voice",
    "texting": "sms",
    "messaging": "sms",
    "emailing": "email",
    "contacting": "all",
}
_NOUNS = {"calls": "voice", "texts": "sms", "messages": "sms", "notifications": "push", "emails": "email"}
_ZH_VERBS = {"打电话": "voice", "发短信": "sms", "发信息": "sms", "推送": "push", "联系我": "all"}
_PAIRED = (
    st.tuples(
        st.sampled_from(sorted(_GERUNDS)), st.sampled_from(sorted(_GERUNDS)), st.sampled_from(["and", "or"])
    ).map(lambda t: (f"stop {t[0]} {t[2]} {t[1]} me", {_GERUNDS[t[0]], _GERUNDS[t[1]]}))
    | st.tuples(st.sampled_from(sorted(_NOUNS)), st.sampled_from(sorted(_NOUNS))).map(
        lambda t: (f"no more {t[0]} or {t[1]}", {_NOUNS[t[0]], _NOUNS[t[1]]})
    )
    | st.tuples(st.sampled_from(sorted(_ZH_VERBS)), st.sampled_from(sorted(_ZH_VERBS))).map(
        lambda t: (f"别再{t[0]}和{t[1]}了", {_ZH_VERBS[t[0]], _ZH_VERBS[t[1]]})
    )
)
#: Clauses that ask nothing to stop, to stand beside an opt-out.
_NEUTRAL = [
    "I paid", "明天还", "thanks", "I will pay Friday", "我没钱", "call me tomorrow", "给我打电话", "text me",
    "I have a lawyer", "wrong number", "不是我的", "hello", "🙂", "15号还",
]  # fmt: skip


@given(
    said=st.lists(st.sampled_from(_NAMING).map(lambda n: (n[0], {n[1]})) | _PAIRED, min_size=1, max_size=3),
    neutral=st.lists(st.sampled_from(_NEUTRAL), max_size=2),
    breaks=st.lists(_BREAKS, min_size=5, max_size=5),
    shout=st.booleans(),
)
def test_an_opt_out_never_stops_fewer_channels_than_it_names(said, neutral, breaks, shout):
    # Given opt-outs that name channels among other clauses, then the answer stops at least every channel named
    pieces = [text for text, _ in said] + neutral
    text = "".join(piece + brk for piece, brk in zip(pieces, breaks * 2, strict=False))
    named = set().union(*(channels for _, channels in said))
    result = classify(text.upper() if shout else text, "en", TODAY)
    assert result is not None and result.kind == "opt_out", text
    assert result.channel == EVERY_CHANNEL or {result.channel} == named, (text, result.channel)


#: Unable to pay, said plainly.
_HARDSHIPS = [
    "还不上",
    "没钱",
    "实在没钱",
    "失业了",
    "I can't pay",
    "I lost my job",
    "no money",
    "medical bills",
]
#: Promises with their day, from the table.
_DATED_PROMISES = [(text, locale, day) for text, locale, kind, _, day in CASES if kind == "promise" and day]


@given(
    hardship=st.sampled_from(_HARDSHIPS),
    promise=st.sampled_from(_DATED_PROMISES),
    brk=st.sampled_from(["，", ", ", ". ", "。", "\n"]),
    first=st.booleans(),
)
def test_a_promise_with_a_day_outranks_hardship(hardship, promise, brk, first):
    # Given "can't pay" beside "will pay Friday", in either order, then it is the promise, with its day
    text, locale, day = promise
    reply = hardship + brk + text if first else text + brk + hardship
    assert classify(reply, locale, TODAY) == Classification("promise", day, CLASSIFIER), reply


#: Pieces that reach deep into the tables and the date rules, to be shuffled together.
_FRAGMENTS = [
    "明天", "还", "已", "不", "周五", "下周", "15号", "12/5", "pay", "will", "not", "paid", "stop", "t", "还了",
    "next", "friday", "the", "31st", "月底", "三天后", "2026-02-30", "0/0", "，", ".", " ", "?", "\n",
    "call", "text", "别", "打电话", "短信", "推送", "联系", "lawyer", "律师", "bankrupt", "破产", "投诉", "cfpb",
    "police", "去世", "passed away", "my", "dad", "没钱", "can't", "don't", "me", "and", "or", "i", "have", "a",
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
        assert first.channel is None or first.kind == "opt_out"
        assert first.channel in {None, "sms", "voice", "push", "email", EVERY_CHANNEL}


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
    assert classify_reply(pm, "stop calling me", "en", TODAY) == Classification(
        "opt_out", None, "replies", "voice"
    )
    assert classify_reply(pm, "I have a lawyer", "en", TODAY) == Classification("attorney", None, "replies")


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


def test_a_lender_classifier_without_ordering_marks_is_still_asked_before_the_builtin():
    # Given a lender's classifier with no tryfirst, then it still answers first: the built-in is trylast
    class LenderWords:
        @hookimpl
        def dunning_classify_reply(self, text, locale, today):
            return Classification("help", None, "lender") if "stop" in text.casefold() else None

    pm = make_plugin_manager(extra=[LenderWords()])
    assert classify_reply(pm, "STOP calling me", "en", TODAY) == Classification("help", None, "lender")
    assert classify_reply(pm, "别再打电话了", "zh-CN", TODAY) == Classification(
        "opt_out", None, "replies", "voice"
    )
