"""Word lists the normalizer uses: stop words, slang/synonym canonical forms, technical terms that
stay in Latin letters in Russian text.

Everything here is generic helpdesk vocabulary written for the product, not taken from any
evaluation set. Keys and values are already lowercased with ё replaced by е.
"""

from __future__ import annotations

# Function words and politeness fillers. They carry no topic, so they neither retrieve entries nor
# count against how much of a question an entry explains. Negations are here too: nearly every
# problem report has one, so they do not separate articles.
STOPWORDS_RU: frozenset[str] = frozenset(
    """
    а абы або бы будет будут был была были было быть в вам вас ваш ваша ваше ваши весь во вот все
    всего всё всем всех вы где да даже для до его ее её ей ему если есть еще ещё же за здесь и из
    или им их к как какая какие каким какое какой когда кого ком кому которая которые который
    кто куда ли либо мне мной меня мое моё мой моя мои моих моим мы на над нам нас наш наша наше
    наши не него нее неё нет ни нибудь ним них но ну о об однако он она они оно от очень по под
    при про с свой своя свое своё свои себе себя со так также такой там те тебе тебя то тогда того
    тоже той только том тот ту ты у уже хотя чего чей чем через что чтобы чтоб чья эта эти это
    этого этой этом этот эту я
    здравствуйте здрасте здравствуй привет приветствую добрый доброе доброго пожалуйста
    пжл плз подскажите подскажи помогите помоги спасибо благодарю коллеги ребята народ сегодня
    вчера опять снова почему-то почему зачем можно нужно надо могу может можете хочу хотел
    хотела делать сделать подскажете скажите ли-то вообще просто кстати типа вроде походу щас
    сейчас какой-то какая-то что-то как-то кто-нибудь
    """.split()
)

STOPWORDS_EN: frozenset[str] = frozenset(
    """
    a about above after again all am an and any are as at be been before being below between both
    but by can could did do does doing down during each few for from further had has have having
    he her here hers him his how i if in into is it its itself just me more most my myself no nor
    not now of off on once only or other our ours out over own same she should so some such than
    that the their them then there these they this those through to too under until up very was
    we were what when where which while who whom why will with would you your yours yourself
    cant cannot dont doesnt didnt wont isnt arent wasnt havent hasnt couldnt shouldnt wouldnt im
    ive id ill youre thats whats hows theres wheres whos u ur pls plz please hi hello hey thanks
    thank thx ty
    guys folks team anyone somebody someone help need want get got getting still again also keeps
    today yesterday tried trying try any anyway really actually just kind sort like
    """.split()
)

# Multi-word spellings joined into one canonical token before tokenizing (applied to normalized
# text, so punctuation such as the hyphen in "wi-fi" is already a space).
PHRASE_SYNONYMS: dict[str, str] = {
    "wi fi": "wifi",
    "вай фай": "wifi",
    "e mail": "email",
    "е мейл": "email",
    "и мейл": "email",
    "log in": "login",
    "log on": "login",
    "logon": "login",
    "sign in": "login",
    "signin": "login",
    "sign on": "login",
    "sign up": "signup",
    "two factor": "mfa",
    "2 factor": "mfa",
    "2 fa": "mfa",
    "учетная запись": "аккаунт",
    "учетной записи": "аккаунт",
    "учетную запись": "аккаунт",
    "учетной записью": "аккаунт",
    "учетные записи": "аккаунт",
    "личный кабинет": "кабинет",
    "flash drive": "usb",
    "usb drive": "usb",
    "thumb drive": "usb",
    "пин код": "пинкод",
    "pin code": "pin",
}

# Single-token slang, abbreviations and Cyrillic spellings of technical words, mapped to one
# canonical word. The canonical word is stemmed afterwards, so inflected slang ("компа", "компе")
# is caught by stemming the key too (see normalize.canonical_stem).
WORD_SYNONYMS: dict[str, str] = {
    # computers
    "комп": "компьютер",
    "пк": "компьютер",
    "pc": "computer",
    "comp": "computer",
    "ноут": "ноутбук",
    "лэптоп": "ноутбук",
    "лаптоп": "ноутбук",
    "notebook": "laptop",
    "винда": "windows",
    "виндовс": "windows",
    "виндоус": "windows",
    "макбук": "macbook",
    "мак": "mac",
    "макос": "macos",
    "прога": "программа",
    "программка": "программа",
    "софт": "программа",
    "приложуха": "приложение",
    "прила": "приложение",
    "application": "app",
    "apps": "app",
    "software": "program",
    # network
    "впн": "vpn",
    "впн-клиент": "vpn",
    "вайфай": "wifi",
    "вифи": "wifi",
    "wlan": "wifi",
    "инет": "интернет",
    "интернета": "интернет",
    "рдп": "rdp",
    # mail and messengers
    "имейл": "email",
    "емейл": "email",
    "мейл": "email",
    "мыло": "email",
    "e-mail": "email",
    "mail": "email",
    "аутлук": "outlook",
    "оутлук": "outlook",
    "зум": "zoom",
    "тимс": "teams",
    "тимсе": "teams",
    "эксель": "excel",
    "ексель": "excel",
    "джира": "jira",
    "црм": "crm",
    # accounts and security
    "учетка": "аккаунт",
    "учетку": "аккаунт",
    "учетки": "аккаунт",
    "акк": "аккаунт",
    "акка": "аккаунт",
    "аккаунта": "аккаунт",
    "acct": "account",
    "pw": "password",
    "pwd": "password",
    "passwd": "password",
    "пасс": "пароль",
    "пасворд": "пароль",
    "2fa": "mfa",
    "2фа": "mfa",
    "двухфакторка": "mfa",
    "двухфакторная": "mfa",
    "двухфакторной": "mfa",
    "двухфакторную": "mfa",
    "двухэтапная": "mfa",
    "смс": "sms",
    "смски": "sms",
    "смска": "sms",
    "смску": "sms",
    "эсэмэс": "sms",
    "text": "sms",
    "otp": "code",
    "флешка": "usb",
    "флешку": "usb",
    "флешки": "usb",
    "флэшка": "usb",
    "флэшку": "usb",
    "юсб": "usb",
    "signup": "register",
    "registration": "register",
    "регистрация": "зарегистрироваться",
    "msg": "message",
    "msgs": "messages",
    "info": "information",
    "sec": "second",
    "mins": "minutes",
    "min": "minute",
    "эйчар": "hr",
    "кадровик": "кадры",
    "кадровики": "кадры",
    # everyday IT synonyms
    "macbook": "mac laptop",
    "imac": "mac computer",
    "display": "monitor",
    "hardware": "equipment",
    "voucher": "coupon",
    "reboot": "restart",
    "headphones": "headset",
    "earphones": "headset",
    "cellphone": "phone",
    "smartphone": "phone",
    "inbox": "mailbox",
    "junk": "spam",
    "wireless": "wifi",
    "laggy": "slow",
    "sluggish": "slow",
    "lag": "slow",
    "клава": "клавиатура",
    "клаву": "клавиатура",
    "мышка": "мышь",
    "мышку": "мышь",
    "шара": "сетевая папка",
    "шару": "сетевая папка",
    "дрова": "драйвер",
    "хард": "диск",
    "айфон": "iphone",
    "смартфон": "телефон",
    "рефанд": "возврат",
    "залочить": "заблокировать",
    "залочило": "заблокировать",
    "залочили": "заблокировать",
    "залочен": "заблокировать",
    "админ": "администратор",
    "админа": "администратор",
    "админские": "администратор",
}

# English irregular verb forms -> base form (the Snowball stemmer leaves them apart).
IRREGULAR_VERBS_EN: dict[str, str] = {
    form: base
    for base, forms in {
        "break": "broke broken",
        "buy": "bought",
        "choose": "chose chosen",
        "come": "came",
        "do": "did done",
        "find": "found",
        "forget": "forgot forgotten",
        "freeze": "froze frozen",
        "give": "gave given",
        "go": "went gone",
        "hang": "hung",
        "hide": "hid hidden",
        "know": "knew known",
        "leave": "left",
        "lose": "lost",
        "make": "made",
        "pay": "paid",
        "put": "put",
        "run": "ran",
        "say": "said",
        "see": "saw seen",
        "sell": "sold",
        "send": "sent",
        "shut": "shut",
        "spill": "spilt",
        "steal": "stole stolen",
        "take": "took taken",
        "tell": "told",
        "think": "thought",
        "throw": "threw thrown",
        "wear": "wore worn",
        "write": "wrote written",
    }.items()
    for form in forms.split()
}
WORD_SYNONYMS.update(IRREGULAR_VERBS_EN)

# Technical words that Russian speakers type in Latin letters; transliteration leaves them as they
# are ("ne rabotaet vpn" -> "не работает vpn").
LATIN_TECH_TERMS: frozenset[str] = frozenset(
    """
    vpn wifi wi fi email mail outlook zoom teams skype slack telegram whatsapp excel word
    powerpoint office windows win mac macos macbook iphone ipad android ios linux usb sms mfa 2fa
    otp crm erp jira confluence sap 1c rdp ssh ip dns http https url api pdf doc docx xls xlsx
    chrome firefox safari edge google yandex gmail anyconnect citrix vmware wi-fi it hr id pin
    login app bios wan lan
    """.split()
)
