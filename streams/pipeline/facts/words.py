"""The word lists and small word tables of fact extraction: general English and general world knowledge.

Data only, kept apart from the rules that read it (as spaCy keeps a language's
stop words and number words in their own modules), so a list can be read and
extended without reading any logic. Nothing here knows about any story.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words, dates, abbreviations and the words that open a clause.
STOPWORDS = _words(
    "a an the this that these those in on at by for from of to with and or but nor as if while when whenever"
    " after before he she it they we i you him her its their our my your his them us me there here what which"
    " who whom whose where why how all some any no not many most more much such so then than also yet still"
    " even just only both either neither each every other another about into onto over under since until"
    " during without within among between through despite amid against along across upon via per is are was"
    " were be been being has have had do does did will would can could may might must shall should"
)
WEEKDAYS = {d.lower(): d for d in "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()}
WEEKDAY_ABBREVIATIONS = _words("mon tue tues wed thu thur thurs fri sat sun")
MONTHS = _words(
    "january february march april may june july august september october november december"
    " jan feb mar apr jun jul aug sep sept oct nov dec"
)
ABBREVIATIONS = _words(
    "mr mrs ms dr st gen col lt sgt sen rep gov prof jr sr inc corp co ltd vs no jan feb mar apr jun jul aug"
    " sep sept oct nov dec fig ft mt capt cmdr adm"
)
WEEKDAY_CLAUSE_WORDS = _words("but while whereas that which who although though")

# People: honorifics, roles and name particles.
HONORIFICS = _words("mr mr. mrs mrs. ms ms. miss dr dr. prof prof. sir dame lord lady rev rev.")
ROLE_HEADS = _words(
    "president vice-president president-elect minister prime-minister secretary secretary-general chancellor"
    " premier spokesman spokeswoman spokesperson general colonel colonel-general lieutenant lieutenant-general"
    " major-general brigadier admiral commander chief ambassador envoy senator representative congressman"
    " congresswoman governor mayor king queen prince princess pope bishop archbishop judge justice chairman"
    " chairwoman chairperson chair director director-general head leader speaker commissioner coach"
    " professor negotiator adviser advisor aide official officer ceo founder captain sergeant marshal sheriff"
    " prosecutor attorney lawyer economist analyst correspondent editor executive emir sultan sheikh"
    " undersecretary under-secretary deputy chief-executive representative diplomat"
)
ROLE_MODIFIERS = _words(
    "deputy vice prime foreign defense defence interior home finance economy economic trade health justice"
    " education energy environment agriculture fisheries transport labour labor state affairs assistant"
    " acting under first executive senior chief permanent principal press special national security former"
    " top crown supreme grand opposition party communications military colonel lieutenant attorney"
    " general"
)
ROLE_WORDS = ROLE_HEADS | ROLE_MODIFIERS
# Lowercase words that may stand right before a name as its role ("Treasury spokeswoman Ana Ruiz").
LOWER_ROLE_HEADS = ROLE_HEADS - _words("general justice chair head king queen prince princess")
PARTICLES = _words("de da di del della van von der den du la le al el bin ibn ter dos das")

# Organisations and events.
ORG_WORDS = _words(
    "council organization organisation alliance ministry department service union agency party bank court"
    " committee university inc inc. corp corp. news commission foundation institute association company"
    " group corporation ltd llc authority office board parliament assembly senate congress army navy force"
    " forces police bureau fund network society college school hospital centre center club secretariat"
    " embassy government administration cabinet coalition movement league federation times post tribune"
    " journal gazette herald channel broadcasting press airlines airways bloc radio television securities holdings"
)
INSTITUTIONS = _words("Kremlin Pentagon Vatican Knesset Bundestag Duma Reuters Bloomberg Xinhua Interfax")
COMPANY_SUFFIXES = _words("inc inc. corp corp. ltd ltd. llc llp lp plc co co. ag sa nv bv gmbh ab asa oyj spa")
NAME_SUFFIXES = COMPANY_SUFFIXES | _words("jr jr. sr sr.")
GENERIC_ACRONYMS = _words("HQ TV AM PM OK CEO CFO CTO GDP ID PR")
EVENT_WORDS = _words(
    "summit conference forum games olympics cup festival war talks championship championships expo"
    " convention congress meeting referendum election elections crisis revolution"
)
EVENT_NOUNS = _words("talks summit meeting meetings conference session negotiations discussions forum")

# Places and peoples.
PLACE_WORDS = _words(
    "peninsula sea ocean river lake island islands mountains mountain valley province region oblast county"
    " street square avenue road bay gulf strait coast desert canal park heights district territory"
    " territories republic kingdom emirates"
)
DIRECTIONS = _words("north south east west northern southern eastern western central upper lower greater")
DEMONYMS = _words(
    "American British English French German Dutch Greek Swiss Thai Czech Iraqi Israeli Pakistani Saudi"
    " Afghan Kenyan Mexican Korean Cuban Danish Swedish Norwegian Finnish Polish Irish Scottish Welsh"
    " Turkish Spanish Chinese Japanese Vietnamese Arab Yemeni Kuwaiti Qatari Somali Bangladeshi Nepali"
    " Western Eastern Northern Southern Central European Soviet Baltic Nordic Slav Balkan"
)
# Countries, capitals, big cities and continents: plain world knowledge, not knowledge of any story.
PLACES = frozenset(
    p.strip()
    for p in """
Afghanistan,Albania,Algeria,Andorra,Angola,Argentina,Armenia,Australia,Austria,Azerbaijan,Bahamas,Bahrain,
Bangladesh,Barbados,Belarus,Belgium,Belize,Benin,Bhutan,Bolivia,Bosnia,Botswana,Brazil,Brunei,Bulgaria,
Burkina Faso,Burundi,Cambodia,Cameroon,Canada,Chad,Chile,China,Colombia,Congo,Costa Rica,Croatia,Cuba,Cyprus,
Czech Republic,Czechia,Denmark,Djibouti,Dominica,Ecuador,Egypt,El Salvador,Eritrea,Estonia,Eswatini,Ethiopia,
Fiji,Finland,France,Gabon,Gambia,Georgia,Germany,Ghana,Greece,Grenada,Guatemala,Guinea,Guyana,Haiti,Honduras,
Hungary,Iceland,India,Indonesia,Iran,Iraq,Ireland,Israel,Italy,Jamaica,Japan,Jordan,Kazakhstan,Kenya,Kosovo,
Kuwait,Kyrgyzstan,Laos,Latvia,Lebanon,Lesotho,Liberia,Libya,Liechtenstein,Lithuania,Luxembourg,Madagascar,
Malawi,Malaysia,Maldives,Mali,Malta,Mauritania,Mauritius,Mexico,Moldova,Monaco,Mongolia,Montenegro,Morocco,
Mozambique,Myanmar,Namibia,Nepal,Netherlands,New Zealand,Nicaragua,Niger,Nigeria,North Korea,North Macedonia,
Norway,Oman,Pakistan,Palestine,Panama,Papua New Guinea,Paraguay,Peru,Philippines,Poland,Portugal,Qatar,
Romania,Russia,Russian Federation,Rwanda,Samoa,San Marino,Saudi Arabia,Senegal,Serbia,Seychelles,
Sierra Leone,Singapore,Slovakia,Slovenia,Somalia,South Africa,South Korea,South Sudan,Spain,Sri Lanka,Sudan,
Suriname,Sweden,Switzerland,Syria,Taiwan,Tajikistan,Tanzania,Thailand,Togo,Tonga,Tunisia,Turkey,Turkiye,
Turkmenistan,Uganda,Ukraine,United Arab Emirates,United Kingdom,United States,Uruguay,Uzbekistan,Venezuela,
Vietnam,Yemen,Zambia,Zimbabwe,US,U.S.,USA,U.S.A.,UK,U.K.,Britain,Great Britain,England,Scotland,Wales,
America,Europe,Asia,Africa,Antarctica,Australasia,Oceania,Middle East,Scandinavia,Balkans,Caucasus,Arctic,
Kabul,Tirana,Algiers,Buenos Aires,Yerevan,Canberra,Vienna,Baku,Manama,Dhaka,Minsk,Brussels,Sofia,Ottawa,
Santiago,Beijing,Bogota,Zagreb,Havana,Nicosia,Prague,Copenhagen,Quito,Cairo,Tallinn,Addis Ababa,Helsinki,
Paris,Tbilisi,Berlin,Accra,Athens,Budapest,Reykjavik,New Delhi,Delhi,Jakarta,Tehran,Baghdad,Dublin,Jerusalem,
Rome,Tokyo,Amman,Astana,Nairobi,Pristina,Bishkek,Riga,Beirut,Tripoli,Vilnius,Skopje,Kuala Lumpur,Valletta,
Mexico City,Chisinau,Ulaanbaatar,Podgorica,Rabat,Kathmandu,Amsterdam,The Hague,Wellington,Abuja,Pyongyang,
Oslo,Muscat,Islamabad,Lima,Manila,Warsaw,Lisbon,Doha,Bucharest,Moscow,Kigali,Riyadh,Dakar,Belgrade,
Bratislava,Ljubljana,Mogadishu,Pretoria,Cape Town,Johannesburg,Seoul,Madrid,Colombo,Khartoum,Stockholm,Bern,
Damascus,Taipei,Dushanbe,Bangkok,Tunis,Ankara,Istanbul,Kampala,Kyiv,Kiev,Abu Dhabi,Dubai,London,Washington,
Montevideo,Tashkent,Caracas,Hanoi,Sanaa,Lusaka,Harare,Geneva,Zurich,Munich,Frankfurt,Hamburg,Milan,Naples,
Barcelona,Marseille,Lyon,Brasilia,Rio de Janeiro,Sao Paulo,New York,Los Angeles,Chicago,San Francisco,Boston,
Toronto,Montreal,Vancouver,Sydney,Melbourne,Shanghai,Hong Kong,Mumbai,Karachi,Lagos,Kinshasa,Luanda,
St Petersburg,Saint Petersburg,Davos,Strasbourg,Luxembourg City,Gaza,West Bank,Kharkiv,Odesa,Odessa,Lviv,
Minneapolis,Seattle,Houston,Dallas,Miami,Atlanta,Philadelphia,Edinburgh,Manchester,Glasgow,Belfast,Cardiff
""".split(",")
)
PLACE_PREPOSITIONS = _words("in at from near")
OBJECT_PREPOSITIONS = _words("in at from near of for with by to")

# Words that keep a capitalised word out of a name: "Beijing-backed", "Yesterday President X".
ADJECTIVAL_TAILS = _words(
    "backed based led owned style born made run held friendly controlled occupied linked allied leaning"
    " bound wide speaking related era type like"
)
SENTENCE_ADVERBS = _words(
    "yesterday today tomorrow tonight meanwhile however later earlier then now instead separately previously"
    " recently finally indeed thus moreover furthermore nevertheless elsewhere overnight afterwards there here"
    " still also again already once last next this"
)

# Speech: who says what, and when.
SPEECH_VERBS = _words(
    "said says say told tells added adds stressed stresses warned warns tweeted tweets wrote writes noted"
    " notes insisted insists explained explains declared declares announced announces argued argues"
    " claimed claims asserted asserts reiterated reiterates acknowledged admitted described describes"
    " called calls urged urges asked asks replied replies responded remarked commented saying adding"
    " telling warning stressing posted"
)
INVERTED_SPEECH_VERBS = _words("said says added adds told asked wrote replied explained continued")
PARTICIPLE_VERBS = _words("saying adding telling warning stressing")
SPEECH_BEFORE = ("said", "says", "told", "added", "according to")
AUDIENCES = _words("reporters journalists lawmakers parliament supporters broadcaster")

# Numbers: number words, scales, currencies, hedges, and the words a number does not count.
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}  # fmt: skip
SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000, "trillion": 10**12}
CURRENCIES = {"$": "dollar", "€": "euro", "£": "pound", "¥": "yen"}
UNIT_WORDS = _words("percent per")
HEDGES = (
    ("no more than", "less than"),
    ("not more than", "less than"),
    ("more than", "more than"),
    ("upwards of", "more than"),
    ("in excess of", "more than"),
    ("at least", "at least"),
    ("less than", "less than"),
    ("fewer than", "less than"),
    ("close to", "nearly"),
    ("just under", "nearly"),
    ("an estimated", "about"),
    ("up to", "less than"),
    ("nearly", "nearly"),
    ("almost", "nearly"),
    ("about", "about"),
    ("around", "about"),
    ("roughly", "about"),
    ("approximately", "about"),
    ("some", "about"),
    ("estimated", "about"),
    ("over", "more than"),
    ("above", "more than"),
    ("under", "less than"),
    ("below", "less than"),
)
NOT_SUBJECTS = STOPWORDS | _words(
    "else another way thing things said says told took take make made met went go came come left remain cannot"
    " remained become became got get"
)
NUMBER_PREVIOUS_BLOCK = _words("no any every each this that which someone anyone")
