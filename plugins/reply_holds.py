"""Replies that hold a case for a person: death, a lawyer, bankruptcy, a complaint, hardship.

Each is a fact the ladder cannot act on by itself. A represented debtor may
only be reached through the lawyer (FDCPA §1692c(a)(2)); a bankruptcy filing
stays collection (11 U.S.C. §362); a complaint to a regulator or the police
has its own deadlines; someone who cannot pay needs a person, not the next
reminder; and nobody should keep reminding a person who has died.

Tables, not a model, as in :mod:`dunning.plugins.replies`. A phrase counts
only when the words just before it do not deny it: "I don't have a lawyer",
"I'm not bankrupt", "我没有失业", "不是没钱", "我不会投诉" hold nothing.
"""

from __future__ import annotations

import re

from dunning.plugins.reply_text import any_of, en

__all__ = ["HOLD_TABLES", "own_family_died", "says"]


#: A denial just before an English phrase: "I don't have a lawyer", "it's not that I can't pay".
_DENIED_EN = re.compile(r"(?:n't|(?<![a-z])(?:not|never))(?:\s+[a-z']+){0,2}\s*$")
#: A denial just before a Chinese phrase: "没有失业", "不是没钱", "我不会投诉", "没请律师".
_DENIED_ZH = re.compile(
    r"(?:不是|并非|并不|没有?|未|不会|不想|不打算|不用|不需要|不要|不必|别|不)[去再要想给]?$"
)

# ---------------------------------------------------------------- deceased

#: Family, in English, whose death a relative reports: "my father passed away".
_KIN_EN = (
    r"mom|mother|mum|mommy|dad|father|daddy|husband|wife|son|daughter|brother|sister|grandma|grandmother"
    r"|grandpa|grandfather|uncle|aunt|partner|spouse|boyfriend|girlfriend|fianc\w*|cousin|nephew|niece"
    r"|step-?(?:father|mother|dad|mom|son|daughter)|child|kid"
)
#: Who may have died, in English: the debtor as "he", a relative, the account holder.
_PERSON_EN = (
    rf"he|she|they|(?:my|our|his|her|their)\s+(?:late\s+)?(?:{_KIN_EN})|the\s+(?:account\s*holder|debtor"
    r"|borrower|owner|customer|card\s*holder|person\s+you(?:'re|\s+are)\s+(?:looking\s+for|calling|texting|after))"
)
#: Family, in Chinese: "我爸去世了", "我老公走了" (走了 alone is "left", and not read).
_KIN_ZH = (
    r"爸爸?|妈妈?|父亲|母亲|老公|老婆|丈夫|妻子|爱人|儿子|女儿|哥哥?|姐姐?|弟弟?|妹妹?|爷爷|奶奶|外公|外婆|姥姥"
    r"|姥爷|公公|婆婆|岳父|岳母|家人|亲人"
)
#: The debtor has died: "he passed away", "my father is deceased", "机主已去世", "人已经不在了";
#: "my phone died", "累死了", "他不在家" are not deaths.
_DECEASED = any_of(
    en(rf"pass(?:ed|es)\s+away|deceased|death\s+certificate|(?:my|our|his|her)\s+late\s+(?:{_KIN_EN})"
       r"|(?:no\s+longer|not)\s+(?:with\s+us|alive|among\s+us)|(?:his|her|their)\s+estate|executor|probate"
       r"|next\s+of\s+kin"),
    en(rf"(?:{_PERSON_EN})(?:'s|\s+is|\s+was|\s+has|\s+had|\s+just|\s+recently|\s+sadly|\s+unfortunately"
       r"|\s+already|\s+been)*\s+(?:died|dead(?!\s+(?:serious|tired|broke|wrong|set|sure|end))|killed"
       r"|passed(?!\s+(?:the|a|an|his|her|my|it|this|that|by|me|on|out|up|over|through)(?![a-z])))"),
    r"去世|过世|逝世|离世|辞世|病逝|病故|身故|亡故|已故|故去|遇难|不在人世|死亡证明",
    rf"(?:他|她|机主|户主|本人|借款人|持卡人|当事人|这个人|此人|人|我的?(?:{_KIN_ZH}))"
    r"(?:已经|早就|早已|都|早|刚|刚刚|前年|去年|上个?月|上周|前几天|前段时间|几年前|半年前)*"
    r"(?:死了|(?:没了|不在了)(?:[啊呀吧的]|$))",
)  # fmt: skip

#: The speaker's own family: "my grandma died" may be the debtor's bereavement, not the debtor's death.
_OWN_KIN = any_of(en(rf"(?:my|our)\s+(?:late\s+)?(?:{_KIN_EN})"), rf"我(?:的|们|们的|家)?(?:{_KIN_ZH})")

# ---------------------------------------------------------------- attorney

#: Who represents someone at law; the attorney general is a regulator, not the debtor's lawyer.
_LAWYER_EN = (
    r"lawyers?|attorneys?(?!\s+general)|solicitors?|counsel(?:or)?|legal\s+(?:team|representative|rep"
    r"|counsel|advis[eo]r|aid)|law\s+firm|paralegal"
)
#: Represented by a lawyer: "I have a lawyer", "talk to my attorney", "我请了律师", "律师会联系你们";
#: "I am a lawyer at a bank", "my lawyer friend", "我是律师", "请不起律师" are not.
_ATTORNEY = any_of(
    en(rf"(?:my|our)\s+(?:own\s+|new\s+|bankruptcy\s+|debt\s+|family\s+|personal\s+)?(?:{_LAWYER_EN})"
       r"(?!\s+(?:friend|buddy|husband|wife|dad|father|mom|mother|son|daughter|brother|sister|cousin"
       r"|neighbou?r)(?![a-z]))"),
    en(r"(?:have|has|[a-z]*'ve|got|hired|retained|engaged|consulted|contacted|spoke\s+(?:to|with)"
       r"|talked\s+(?:to|with)"
       r"|(?:will|[a-z]*'ll|going\s+to|gonna)\s+(?:get|hire|retain|call|contact"
       r"|talk\s+to|speak\s+(?:to|with)|consult|see)|(?:am|i'm)\s+(?:getting|hiring|seeing|consulting))"
       rf"\s+(?:a|an|the|myself\s+an?)\s+(?:[a-z]+\s+)?(?:{_LAWYER_EN})"),
    en(rf"represented(?:\s+by)?|legal\s+representation|lawyer(?:ed)?\s+up|(?:{_LAWYER_EN})(?:\s+is|\s+will"
       r"|'s|'ll|\s+has)\s+(?:be\s+)?(?:handling|dealing|representing|in\s+touch|contact\w*|call\w*|reach\w*"
       r"|writ\w*|sending)"),
    r"(?:请|找|聘|聘请|委托|雇|咨询|联系)(?:了|过)?(?:专业的?|一个|一位|个|位)?律师|我(?:们|家)?的?律师(?!事务所|行业|职业|证)|律师(?:会|将|已经?|正在|在)+"
    r"(?:联系|找|处理|跟进|和|与|跟|起诉|介入|发)|(?:发|寄)律师函|交给?律师|(?:跟|和|与|找|联系)我的?律师|法律援助"
    r"|代理律师|律师代理",
)  # fmt: skip

# ---------------------------------------------------------------- bankruptcy

#: Bankruptcy, filed or declared: "I filed for bankruptcy", "chapter 13", "申请破产", "个人破产";
#: "the company went bankrupt" (hardship, below) and "I'm not bankrupt" are not.
_BANKRUPTCY = any_of(
    en(r"(?:i|we)(?:\s*'(?:m|ve|re)|\s+(?:am|are|have|has|had|was|were))?(?:\s+(?:just|already|recently|now"
       r"|officially|legally|been|gone|now))*\s+(?:filed\s+(?:for\s+)?|filing\s+(?:for\s+)?|declared\s+"
       r"|went\s+|gone\s+|in\s+)?(?:personal\s+)?(?:bankrupt\w*|insolven\w*|chapter\s*(?:7|11|13|seven|eleven"
       r"|thirteen))"),
    en(r"chapter\s*(?:7|13|seven|thirteen)|automatic\s+stay|bankruptcy\s+(?:case|petition|court|trustee|filing"
       r"|protection|attorney|lawyer|discharge|number)|(?:in|under|through|filed)\s+bankruptcy"
       r"|discharged\s+(?:in|through)|(?:my|our)\s+bankruptcy|individual\s+voluntary\s+arrangement"
       r"|debt\s+relief\s+order|sequestrat\w*"),
    r"个人破产|(?:申请|宣告|宣布|进入)了?(?:个人|我)?破产|破产(?:申请|程序|清算|重整|和解|管理人|案|保护|裁定)"
    r"|我(?:已经|已|都|早就)?破产了",
)  # fmt: skip

# ---------------------------------------------------------------- complaint

#: Regulators and authorities a debtor complains to, in English.
_AUTHORITY_EN = (
    r"cfpb|ftc|bbb|fca|fos|fcc|occ|fdic|ombudsman|regulators?|police|cops|attorney\s+general|ag'?s?\s+office"
    r"|consumer\s+(?:protection|financial\s+protection|affairs)|better\s+business\s+bureau|authorities"
    r"|federal\s+trade\s+commission|trading\s+standards|(?:state|banking)\s+(?:regulators?|department"
    r"|commission|board)"
)
#: Regulators, hotlines and complaint sites in China.
_AUTHORITY_ZH = (
    r"银保监|银监|保监|金融监管|监管局|监管部门|监管机构|人民银行|人行|央行|消协|消费者协会|市场监管|工商局|互金协会"
    r"|互联网金融协会|银行业协会|网信办|黑猫投诉|信访"
)
#: Their hotlines, read only beside a call or a complaint: "打12378投诉", not "我还了12315元".
_HOTLINE_ZH = r"(?<!\d)(?:12378|12363|12315|12345)(?!\d)"
#: A complaint to a regulator or the police, made or threatened: "I will complain to the CFPB",
#: "我已经投诉到金融监管局", "报警了"; "no complaints", "my credit report", "我不会投诉" are not.
_COMPLAINT = any_of(
    en(rf"(?:cfpb|ftc|bbb|better\s+business\s+bureau|attorney\s+general|ombudsman|federal\s+trade\s+commission"
       rf"|consumer\s+financial\s+protection)|(?:complain\w*|report\w*|call\w*|contact\w*|go(?:ing)?|went"
       rf"|writ(?:e|ing)|tell\w*|file\w*\s+(?:a\s+)?(?:complaint|report)\s+with)\s+(?:[a-z]+\s+){{0,3}}?"
       rf"(?:to\s+|with\s+)?(?:the\s+|my\s+|your\s+)?(?:{_AUTHORITY_EN})"),
    en(r"(?:file|filed|filing|make|made|lodge|lodged|submit|submitted|raise|raised|open|opened)\s+(?:a|an|my)"
       r"\s+(?:formal\s+|official\s+)?complaint|(?:will|[a-z]*'ll|gonna|going\s+to"
       r"|want\s+to)\s+complain|police\s+report"),
    en(r"sue\s+(?:you|u|your|the)|su(?:ing|ed)\s+(?:you|your)|take\s+(?:you|u|this)\s+to\s+court"
       r"|report(?:ing|ed)?\s+(?:you|u|your\s+(?:company|business|firm))(?!\s+(?:as|for)\s+(?:paid|fraud))"
       r"|see\s+you\s+in\s+court|small\s+claims|class\s+action|(?:tcpa|fdcpa)\s+(?:violation|lawsuit|claim)"),
    rf"(?:投诉|举报|报警|报案|控告|(?<!你)(?<!你们)起诉|告你)|{_AUTHORITY_ZH}",
    rf"(?:打|拨|拨打|致电|找|给|向|到)了?{_HOTLINE_ZH}|{_HOTLINE_ZH}(?:投诉|举报|热线|反映)",
    r"(?:找|去|到|向|打|拨|叫|喊|报)了?(?:警察|公安|派出所|110|法院)",
)  # fmt: skip

# ---------------------------------------------------------------- hardship

#: Unable to pay: "还不上", "没钱还", "失业了", "I can't pay", "lost my job", "medical bills";
#: "I can't pay online" (help) and "not that I have no money" are not.
_HARDSHIP = any_of(
    en(r"(?:can'?t|cannot|can\s+not|unable\s+to|not\s+able\s+to|couldn'?t|won'?t\s+be\s+able\s+to)\s+(?!wait)"
       r"(?:[a-z]+\s+){0,2}?(?:pay|afford|repay|keep\s+up"
       r"|make\s+(?:the|my|this|a|any|these|ends)\s+(?:payments?|meet))"
       r"(?!\s+(?:online|on\s+(?:the\s+)?(?:app|website|site|line)|via|through|with\s+(?:my|a|the|this)\s+card"
       r"|by\s+card|in\s+the\s+app|the\s+link|using))"),
    en(r"(?:have|got)\s+no\s+(?:money|income|job|work|funds|cash)|(?:don'?t|do\s+not)\s+have\s+(?:any\s+|the\s+"
       r"|enough\s+)?(?:money|funds|cash|income|a\s+job)|no\s+(?:money|income|funds)|not\s+enough\s+money"
       r"|out\s+of\s+money|insufficient\s+funds"),
    en(r"(?:lost|lose|losing)\s+(?:my|our)\s+(?:job|income|work|business|house|home)|laid\s+off|(?:got|been"
       r"|was|were)\s+(?:fired|let\s+go|furloughed)|unemployed|jobless|out\s+of\s+(?:work|a\s+job)"
       r"|(?:i'm|i\s+am)\s+not\s+working|no\s+(?:job|work)"),
    en(r"medical\s+(?:bills?|expenses?|debt|emergency|leave)|hospital\s+bills?|in\s+(?:the\s+)?hospital"
       r"|hospitali[sz]ed|surgery|cancer|chemo\w*|(?:i'm|i\s+am|on)\s+disability|(?:i'm|i\s+am|been|was|got)"
       r"\s+(?:very\s+|really\s+|seriously\s+)?(?:sick|ill)(?!\s+(?:of|and\s+tired))"),
    en(r"hardship|financial\w*\s+(?:difficult\w*|trouble|problems?|struggles?|crisis)|struggl\w*\s+(?:financially"
       r"|with\s+money|to\s+pay|to\s+make\s+ends)|(?:i'm|i\s+am|totally|flat|dead|completely)\s+broke"
       r"|paycheck\s+to\s+paycheck|(?:company|employer|business|shop|store)\s+(?:went|has\s+gone|is)"
       r"\s+(?:bankrupt|under|out\s+of\s+business)|(?:going|almost|nearly)\s+bankrupt"
       r"|(?:considering|thinking\s+(?:about|of)|might(?:\s+have\s+to)?|may\s+have\s+to)"
       r"\s+(?:[a-z]+\s+){0,2}bankrupt\w*"),
    r"(?:还|付|交|缴)不(?:上|起|了(?!解))|(?:没有?|没了|无)(?:钱|能力|收入|工作)(?!包)|拿不出|凑不(?:齐|够|出|到)"
    r"|负担不起|承担不起|无力(?:偿还|还款|支付|承担)|无法(?:还款|偿还|支付)",
    r"失业|下岗|被裁|裁员|被辞退?|被开除|丢了工作|工作没了|找不到工作|收入(?:没了|中断|减少|下降)|停工|停薪|降薪|欠薪"
    r"|工资(?:没发|被拖欠|拖欠)|公司(?:倒闭|破产|关门)|生意(?:失败|亏|不好|做不下去)|亏(?:光|完|本)",
    r"生病|病了|重病|大病|住院|手术|癌|化疗|车祸|受伤|工伤|残疾|(?:经济|家庭|生活|资金|手头|还款)上?(?:困难|紧张|紧)"
    r"|周转不(?:开|过来|灵)|资金周转|困难",
)  # fmt: skip

#: Every kind that holds a case, with its table.
HOLD_TABLES: dict[str, tuple[re.Pattern[str], ...]] = {
    "deceased": _DECEASED,
    "attorney": _ATTORNEY,
    "bankruptcy": _BANKRUPTCY,
    "complaint": _COMPLAINT,
    "hardship": _HARDSHIP,
}


def says(kind: str, parts: list[str]) -> bool:
    """Whether a clause says what ``kind`` stands for, and the words before it do not deny it."""
    return any(
        not _denied(part[: m.start()])
        for part in parts
        for pattern in HOLD_TABLES[kind]
        for m in pattern.finditer(part)
    )


def _denied(before: str) -> bool:
    return bool(_DENIED_EN.search(before) or _DENIED_ZH.search(before))


def own_family_died(parts: list[str]) -> bool:
    """Whether every death the reply reports is of the speaker's own family ("my grandma died")."""
    deaths = [
        (part, m.end())
        for part in parts
        for pattern in _DECEASED
        for m in pattern.finditer(part)
        if not _denied(part[: m.start()])
    ]
    return bool(deaths) and all(any(k.search(part[:end]) for k in _OWN_KIN) for part, end in deaths)
