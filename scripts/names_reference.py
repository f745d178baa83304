"""Deterministic PERSON / ADDRESS detector (lists + rules): the reference for Sources/Guardrails/Names.swift.

scan(text) -> list of (type, start, end), type in {"PERSON", "ADDRESS", "ZIP_CODE"}, end exclusive,
offsets in Python str indices (Unicode code points / scalars). ZIP_CODE = a bare postcode after "zip code is" etc.
The Swift port reports ADDRESS as STREET_ADDRESS and must give exactly these spans otherwise
(tests/guardrails/names-parity.jsonl, written by scripts/make-names-parity.py, checks it).
Gazetteers: Sources/Guardrails/Resources/names/*.txt (lowercase, one entry per line; derived from Faker (MIT)
provider data, plus the SCOWL/Debian "wamerican" word list for names that are also English words, plus small
hand lists; see the README there).
"""
import os, re

GDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'Sources', 'Guardrails', 'Resources', 'names')


def _load(name):
    with open(os.path.join(GDIR, name), encoding='utf-8') as f:
        return frozenset(l.strip() for l in f if l.strip())


FIRST = _load('first_names.txt')
LAST = _load('last_names.txt')
PARTICLES = _load('name_particles.txt')
PREFIXES = _load('name_prefixes.txt')
SUFFIXES = _load('name_suffixes.txt')
SURNAME_END = sorted(_load('surname_endings.txt'), key=len, reverse=True)
COMMON = _load('common_words.txt')
COUNTRIES = _load('countries.txt')
STATES = _load('us_states.txt')
ST_SUFFIX = _load('street_suffixes.txt')
ST_TYPES = _load('street_types.txt')
ST_ENDING = _load('street_name_endings.txt')
SECONDARY = _load('secondary_units.txt')
ST_STRONG = _load('street_suffixes_strong.txt')
MONTHS = frozenset('jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august september october november december mon tue wed thu fri sat sun monday tuesday wednesday thursday friday saturday sunday'.split())
GEO = COUNTRIES | STATES

# ---------------------------------------------------------------- tokeniser
# word  = letters (Unicode), with internal ' ’ - between letter runs ("O'Brien", "Jean-Luc")
# num   = run of ASCII digits
# punct = any other single non-space character
_TOK = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*|[0-9]+|[^\s]")


class Tok:
    __slots__ = ('s', 'a', 'b', 'k', 'low', 'gap', 'nl')

    def __init__(self, s, a, b, k, gap):
        self.s, self.a, self.b, self.k = s, a, b, k
        self.low = s.lower()
        self.gap = gap                      # the whitespace string before this token
        self.nl = gap.count('\n')           # newlines before this token


def tokenize(text):
    toks = []
    prev = 0
    for m in _TOK.finditer(text):
        s = m.group()
        c = s[0]
        k = 'w' if c.isalpha() else ('n' if '0' <= c <= '9' else 'p')
        toks.append(Tok(s, m.start(), m.end(), k, text[prev:m.start()]))
        prev = m.end()
    return toks


# ---------------------------------------------------------------- helpers
NONPERSON = _load('non_person_words.txt')
ORG_WORDS = _load('org_words.txt')


def base(low):
    """strip possessive 's"""
    if low.endswith("'s") or low.endswith("’s"):
        return low[:-2]
    return low


def sentence_start(toks, i):
    """token i starts a sentence / line / quoted segment"""
    if i == 0:
        return True
    t = toks[i]
    if t.nl:
        return True
    p = toks[i - 1]
    if p.k != 'p':
        return False
    if p.s in '"“”(\'[':
        return True
    return p.s in '.!?;>*-•' and t.gap != ''


def url_mask(text, toks):
    """True for tokens inside a whitespace-delimited chunk that looks like an e-mail / URL / domain"""
    mask = [False] * len(toks)
    for m in re.finditer(r'\S+', text):
        c = m.group()
        if '@' in c or '://' in c or c.lower().startswith('www.') or re.search(r'[^\W\d_]\.[^\W\d_]{2}', c):
            for i, t in enumerate(toks):
                if t.a >= m.start() and t.b <= m.end():
                    mask[i] = True
    return mask


ENGLISH_ENDINGS = ('ing', 'tion', 'sion', 'ness', 'ment', 'ly', 'able', 'ible', 'ous', 'ity', 'ism', 'ship', 'ful', 'less',
                   'ance', 'ence', 'ive', 'ical', 'ogy', 'ies', 'ers', 'ings', 'ures', 'ists')


def word_class(t, lower_mode, masked):
    """K known name, W name that is also a common word, M surname by ending, C common word / not a name,
    U unknown capitalised word, I initial, A particle, P honorific, S suffix (Jr, III), O organisation word, X other"""
    if t.k != 'w' or masked:
        return 'X'
    low = base(t.low)
    cap = t.s[0].isupper()
    if not cap and not lower_mode:
        return 'A' if low in PARTICLES else 'X'
    if len(t.s) == 1:
        return 'I' if cap or lower_mode else 'X'
    if low in PREFIXES:
        return 'P'
    if low in SUFFIXES and (t.s.isupper() or low in ('jr', 'sr')):
        return 'S'
    if t.s.isupper() and not lower_mode and not UPPER_MODE[0]:
        return 'X'                      # ALL-CAPS word in normal text: acronym / city in caps
    if low in ORG_WORDS:
        return 'O'
    if low in GEO or low in NONPERSON:
        return 'C'
    parts = low.split('-')
    if len(parts) > 1:
        return 'U'                      # "Taylor-Jones": mostly company names in this data
    named = low in FIRST or low in LAST
    if named:
        return 'W' if low in COMMON else 'K'
    if low in COMMON or low in ST_SUFFIX:
        return 'C'
    if lower_mode and low in PARTICLES:
        return 'A'
    if len(low) >= 5 and any(low.endswith(e) for e in SURNAME_END):
        return 'M'
    if low.endswith(ENGLISH_ENDINGS) or any(ch.isdigit() for ch in low):
        return 'C'
    return 'U'


UPPER_MODE = [False]
PERSON_VERBS = frozenset("""is was has had will would can could did does lives lived said says say shouted spent began wrote
told asked went came explained gave given got made met called replied added noted smiled laughed looked walked works worked
joined left moved knows knew thinks thought wants wanted loves loved likes liked became becomes must should may might
who whose""".split())
GEO_PREPS = frozenset('in from at near into across within outside inside towards toward via through around'.split())
STRONG_TRIG = [('my', 'name', 'is'), ('name', 'is'), ('name', ':'), ('names', 'are'), ('dear',), ('hi',), ('hello',), ('hey',),
               ('called',), ('named',), ('signed',), ('regards', ','), ('sincerely', ','), ('user', ':'), ('i', "'", 'm'),
               ('i', '’', 'm'), ('i', 'am'), ('this', 'is'), ('name', 'to'), ('it', 'to'), ('maiden', 'name', 'is'),
               ('last', 'name', '?'), ('name', '?'), ('by',), ('add',), ('producer',), ('author',), ('director',), ('manager',),
               ('mr',), ('mrs',), ('ms',), ('dr',), ('miss',)]
WEAK_TRIG = [('and',), ('with',), ('to',), ('meet',), ('ask',), ('tell',), ('contact',), ('thanks',), ('thank', 'you'), ('at',),
             ('about',), ('for',), ('from',), (',',), ('features',)]


def trig_before(toks, i):
    def match(trig):
        n = len(trig)
        if i - n < 0:
            return False
        for j in range(n):
            t = toks[i - n + j]
            if base(t.low) != trig[j]:
                return False
        return not any(toks[i - n + j + 1].nl for j in range(n))
    if any(match(t) for t in STRONG_TRIG):
        return 2
    if any(match(t) for t in WEAK_TRIG):
        return 1
    return 0


def find_persons(text, toks, want_features=False):
    lower_mode = not any(c.isupper() for c in text)
    letters = [c for c in text if c.isalpha()]
    UPPER_MODE[0] = bool(letters) and sum(c.isupper() for c in letters) > 0.8 * len(letters)
    mask = url_mask(text, toks)
    cls = [word_class(t, lower_mode, m) for t, m in zip(toks, mask)]
    n = len(toks)
    out = []
    i = 0
    while i < n:
        if cls[i] not in 'KWMUIP' or (lower_mode and cls[i] not in 'KWMP'):
            i += 1
            continue
        chain = [i]
        j = i
        while True:
            k = j + 1
            if k < n and toks[k].s == '.' and toks[k].gap == '' and cls[j] in 'IP':
                k += 1
            if k >= n or toks[k].nl or toks[k].gap == '' or len(toks[k].gap) > 2:
                break
            c = cls[k]
            if lower_mode:
                ok = c in 'KWM' or (c == 'I' and toks[k].low not in ('a', 'i', 'o', 'y', 'e') and k + 1 < n
                                    and cls[k + 1] in 'KM') or \
                    (c == 'U' and cls[j] in 'KIP' and len(chain) == 1 + (cls[i] == 'P') and
                     toks[k].low not in COMMON and len(toks[k].s) >= 4 and
                     not toks[k].low.endswith(('s', 'ed', 'ing', 'ly', 'er'))) or (c == 'A' and k + 1 < n and cls[k + 1] in 'KWMUA')
            else:
                ok = c in 'KWMUIPS' or (c == 'A' and k + 1 < n and cls[k + 1] in 'KWMUA')
            if not ok or len(chain) >= 6:
                break
            chain.append(k)
            j = k
        i = j + 1
        span = judge(toks, cls, chain, lower_mode, want_features)
        if span:
            out.append(span)
    return out


FEATURES = ['bias', 'k_first', 'k_last', 'morph', 'weak', 'unknown', 'initial', 'prefix', 'multi', 'all_unknown',
            'start', 'start_single', 'trig_strong', 'trig_weak', 'prev_geo', 'prev_the', 'next_verb', 'speaker',
            'vocative', 'possessive', 'lower', 'lower_single', 'list_ctx', 'long']


def chain_features(toks, cls, chain, lower_mode):
    """returns (features dict, first, last) or None when the chain is rejected by hard rules"""
    lab = [cls[k] for k in chain]
    while lab and lab[0] == 'A':
        chain, lab = chain[1:], lab[1:]
    while lab and lab[-1] in 'AP':
        chain, lab = chain[:-1], lab[:-1]
    if not lab:
        return None
    n = len(toks)
    first, last = chain[0], chain[-1]
    nxt = toks[last + 1] if last + 1 < n else None
    prv = toks[first - 1] if first > 0 else None
    if nxt is not None and not nxt.nl and nxt.k == 'w' and (base(nxt.low) in ORG_WORDS or
                                                            (nxt.s[0].isupper() and nxt.low in ST_SUFFIX)):
        return None
    if nxt is not None and nxt.s == '&':
        return None
    core = [l for l in lab if l in 'KWMU']
    if not core:
        return None
    # month abbreviations next to a number: "Jan 2022", "07 Jan"
    if len(chain) == 1 and base(toks[first].low) in MONTHS and ((nxt is not None and nxt.k == 'n') or
                                                               (prv is not None and prv.k == 'n')):
        return None
    f = dict.fromkeys(FEATURES, 0.0)
    f['bias'] = 1.0
    for k, l in zip(chain, lab):
        low = base(toks[k].low)
        if l == 'K':
            if low in FIRST:
                f['k_first'] += 1
            else:
                f['k_last'] += 1
        elif l == 'M':
            f['morph'] += 1
        elif l == 'W':
            f['weak'] += 1
        elif l == 'U':
            f['unknown'] += 1
        elif l == 'P':
            f['prefix'] = 1.0
        elif l == 'I':
            f['initial'] = 1.0
    f['multi'] = 1.0 if len(core) >= 2 else 0.0
    f['long'] = 1.0 if len(core) > 3 else 0.0
    f['all_unknown'] = 1.0 if all(l == 'U' for l in core) else 0.0
    start = sentence_start(toks, first)
    f['start'] = 1.0 if start else 0.0
    f['start_single'] = 1.0 if start and len(core) == 1 else 0.0
    trig = trig_before(toks, first)
    f['trig_strong'] = 1.0 if trig == 2 else 0.0
    f['trig_weak'] = 1.0 if trig == 1 else 0.0
    f['prev_geo'] = 1.0 if prv is not None and base(prv.low) in GEO_PREPS else 0.0
    f['prev_the'] = 1.0 if prv is not None and prv.low == 'the' else 0.0
    if nxt is not None and not nxt.nl:
        nl_ = base(nxt.low)
        f['next_verb'] = 1.0 if nl_ in PERSON_VERBS else 0.0
        f['speaker'] = 1.0 if nxt.s == ':' and start else 0.0
        f['vocative'] = 1.0 if nxt.s == ',' and start else 0.0
    if toks[last].low.endswith("'s") or toks[last].low.endswith("’s") or \
            (nxt is not None and nxt.s in ("'", '’') and last + 2 < n and toks[last + 2].low == 's' and toks[last + 2].gap == ''):
        f['possessive'] = 1.0
    f['lower'] = 1.0 if lower_mode else 0.0
    f['lower_single'] = 1.0 if lower_mode and len(core) == 1 else 0.0
    if (prv is not None and prv.s == ',') or (nxt is not None and nxt.s == ',' and not start) or \
            (prv is not None and prv.low == 'and') or (nxt is not None and nxt.low == 'and'):
        f['list_ctx'] = 1.0
    return f, first, last, lab


def judge(toks, cls, chain, lower_mode, want_features=False):
    r = chain_features(toks, cls, chain, lower_mode)
    if r is None:
        return None
    f, first, last, lab = r
    score = sum(WEIGHTS.get(k, 0.0) * v for k, v in f.items())
    n = len(toks)
    a = toks[first].a
    b = toks[last].b
    if lab[-1] in 'I' and last + 1 < n and toks[last + 1].s == '.' and toks[last + 1].gap == '':
        b += 1
    s_ = toks[last].s
    if s_.lower().endswith("'s") or s_.endswith("’s"):
        b -= 2
    if want_features:
        return ('PERSON', a, b, f, score)
    if score < THRESH[0]:
        return None
    return ('PERSON', a, b)


# weights of the linear chain score (see train_person.py); accept when score >= THRESH
WEIGHTS = {'bias': 0.15, 'k_first': 2.2, 'k_last': 0.5, 'morph': 1.0, 'weak': -0.85, 'unknown': -0.55, 'initial': 0.75, 'prefix': 1.8, 'multi': 0.6, 'all_unknown': -1.6, 'start': 0.55, 'start_single': -1.3, 'trig_strong': 3.4, 'trig_weak': -0.75, 'prev_geo': -0.95, 'prev_the': -1.2, 'next_verb': 1.5, 'speaker': 0.3, 'vocative': 0.5, 'possessive': 0.35, 'lower': 0.0, 'lower_single': -0.85, 'list_ctx': 0.85, 'long': 0.0}
THRESH = [0.0]


# ---------------------------------------------------------------- ADDRESS
FUNC = frozenset('the a an and or of to in at on for with by from is are was were be it this that my your our his her their '
                 'i you we he she they me us him them as if not no so but then than there here when where what which who '
                 'how why all any some into onto over under after before last next please can could would should will do '
                 'does did have has had am been being up down out about again once also just only very'.split())
AFTER_ADDR = frozenset('in on at last and or to for is was near since until by'.split())
PARTICLE_ST = frozenset('de do da del dei degli della delle la le les des du di van der den von dos das al el ten ter y i e'.split())
MIL_SHIP = frozenset(['uss', 'usns', 'usnv', 'uscgc'])
AMBIGUOUS_TYPES = frozenset('via place route gate put al c r u av tee plaza court ring ut bd str'.split())


def is_num(t, lo=1, hi=6):
    return t is not None and t.k == 'n' and lo <= len(t.s) <= hi


def not_latin(s):
    c = s[0]
    return c.isalpha() and not ('a' <= c.lower() <= 'z') and ord(c) >= 0x370     # Greek, Cyrillic, ... (not Latin-1 accents)


class AddrScanner:
    def __init__(self, text, toks):
        self.toks = toks
        self.n = len(toks)
        self.lower_mode = not any(c.isupper() for c in text)

    # ---- small predicates
    def tok(self, i):
        return self.toks[i] if 0 <= i < self.n else None

    def same_line(self, i):
        """token i follows token i-1 on the same line with at most 2 spaces"""
        t = self.tok(i)
        return t is not None and not t.nl and len(t.gap) <= 2

    def attached(self, i):
        t = self.tok(i)
        return t is not None and t.gap == ''

    def word_end(self, i):
        """index of the last token of the 'word' at i, absorbing an attached '.' or '/' (abbreviations: 'u.', 'C/')"""
        j = i
        if self.attached(j + 1) and self.toks[j + 1].s in './' and self.toks[j].k == 'w' and \
                (len(self.toks[j].s) <= 5 or self.toks[j].low in ST_TYPES or self.toks[j].low.endswith('str')):
            j += 1
        return j

    def num_end_ok(self, e):
        """what follows a house number that ends a street: end, newline, punctuation, a capitalised word,
        'street' / 'Apt' ... (not '10 bottles of')"""
        q = self.tok(e + 1)
        if q is None or q.nl or q.k == 'p' or q.k == 'n':
            return True
        if q.k == 'w' and (any(c.isupper() for c in q.s) or q.low in ST_STRONG or q.low in SECONDARY):
            return True
        return q.low in AFTER_ADDR or (self.lower_mode and q.low in FUNC)

    def is_type(self, i):
        t = self.tok(i)
        return t is not None and t.k == 'w' and t.low in ST_TYPES

    def has_ending(self, i):
        t = self.tok(i)
        if t is None or t.k != 'w':
            return False
        low = t.low
        return any(low.endswith(e) and len(low) >= len(e) + 3 for e in ST_ENDING)

    def is_suffix(self, i):
        t = self.tok(i)
        return t is not None and t.k == 'w' and t.low in ST_SUFFIX and (t.s[0].isupper() or self.lower_mode)

    def is_secondary_word(self, i):
        t = self.tok(i)
        return t is not None and t.k == 'w' and t.low in SECONDARY

    def street_word(self, i, first=False):
        t = self.tok(i)
        if t is None or t.k != 'w':
            return False
        if self.is_secondary_word(i) and self.is_num(self.word_end(i) + 1):
            return False
        if t.low in PARTICLE_ST and not first:
            return True
        if t.low in FUNC or t.low in MONTHS:
            return False
        if not self.spaced(i):
            return False
        if self.lower_mode or any(c.isupper() for c in t.s):
            return True
        if t.low in ST_TYPES and (len(t.s) > 1 or self.attached(i + 1) and self.toks[i + 1].s in './'):
            return not first or t.low not in AMBIGUOUS_TYPES
        # a lowercase word inside a street phrase ("Trg revolucije 12", "José matía 66"), not an English word
        return not first and t.low not in COMMON and len(t.s) >= 3

    def is_num(self, i, lo=1, hi=6):
        return is_num(self.tok(i), lo, hi) and self.spaced(i)

    def spaced(self, i):
        """token i is not glued to letters/digits on either side (not part of an id, hash, decimal, time, phone)"""
        t = self.toks[i]
        p = self.tok(i - 1)
        if p is not None and t.gap == '' and (p.k != 'p' or p.s in '.,:$€£+-/x#@_=') and not (t.k == 'w' and p.s in '-/'):
            if not (t.k == 'n' and p.s in '>(') and not (t.k == 'w' and p.k == 'p' and p.s in '>(\'"'):
                return False
        q = self.tok(i + 1)
        if q is not None and q.gap == '':
            if q.k != 'p' and not (t.k == 'n' and q.k == 'w' and len(q.s) == 1):
                return False
            if q.s in ':-,.' and t.k == 'n' and self.tok(i + 2) is not None and self.toks[i + 2].k == 'n' and self.toks[i + 2].gap == '':
                return False
        return True

    def words(self, i, maxw=5, first=True):
        """consecutive street words starting at i on one line; returns list of (start, end) token index pairs"""
        out = []
        j = i
        while len(out) < maxw and self.street_word(j, first and not out):
            e = self.word_end(j)
            out.append((j, e))
            if not self.same_line(e + 1):
                break
            j = e + 1
            # hyphenated pieces are already inside word tokens
        return out

    def secondary_at(self, i):
        """'Apt. 123', 'Suite 456', 'Unit 7', 'apt # 12' -> last token index or -1"""
        if not self.is_secondary_word(i) or self.toks[i].low == 'box':
            return -1
        j = self.word_end(i)
        if self.tok(j + 1) is not None and self.toks[j + 1].s == '#':
            j += 1
        if self.is_num(j + 1) and self.same_line(j + 1):
            j += 1
            if self.attached(j + 1) and self.tok(j + 1).k == 'w' and len(self.tok(j + 1).s) == 1:
                j += 1
            return j
        return -1

    # ---- street cores
    def street_at(self, i):
        """return (start, end) of a street phrase starting at token i, or None"""
        t = self.tok(i)
        if t is None:
            return None
        if t.k == 'n' and len(t.s) <= 6:
            if not self.spaced(i):
                return None
            j = i
            two_nums = False
            if self.same_line(j + 1) and self.is_num(j + 1):
                j += 1
                two_nums = True
            if not self.same_line(j + 1):
                return None
            ws = self.words(j + 1)
            if not ws and self.is_type(j + 1) and self.same_line(j + 2) and self.tok(j + 2).k == 'w' \
                    and self.tok(j + 2).s[0].isupper():
                ws = [(j + 1, self.word_end(j + 1))] + self.words(self.word_end(j + 1) + 1, first=False)
            if not ws:
                return None
            # English order: NUM words SUFFIX ("95 Burton Avenue", "1737 Cheriton Dr")
            yearish = len(t.s) == 4 and t.s[:2] in ('19', '20') and not two_nums
            for idx, (ws_, we) in enumerate(ws):
                if 1 <= idx <= 4 and self.is_suffix(ws_) and not (self.toks[ws_].low in ('st', 'dr') and idx + 1 < len(ws)):
                    if yearish and self.toks[ws_].low not in ST_STRONG:
                        continue
                    e = we
                    while idx + 1 < len(ws) and self.is_suffix(ws[idx + 1][0]):
                        idx += 1
                        e = ws[idx][1]
                    return (i, e)
            # NUM words NUM ("3421 Fagradalsbraut 71", "808 Kálmán Imre u. 12.")
            last = ws[-1][1]
            if self.same_line(last + 1) and self.is_num(last + 1) and self.num_end_ok(last + 1):
                e = last + 1
                if self.attached(e + 1) and self.toks[e + 1].s == '.':
                    e += 1
                return (i, e)
            # NUM street-type words ("137 Avenue Teboulbi", "19 rue La Boétie")
            if any((self.is_type(a) and len(self.toks[a].s) > 1) or self.has_ending(a) for a, _ in ws) and \
                    any(not self.is_type(a) for a, _ in ws):
                return (i, last)
            # NUM NUM words ("07 262 Pavlou Drandaki")
            if two_nums:
                return (i, last)
            return None
        if t.k != 'w':
            return None
        if t.low in FIRST and self.tok(i + 1) is not None and self.toks[i + 1].low == 'and' and self.same_line(i + 1) \
                and self.same_line(i + 2) and t.s[0].isupper() == (not self.lower_mode) and not (i > 0 and self.toks[i - 1].s == ','):
            ws2 = self.words(i + 2, maxw=4)
            if ws2 and self.same_line(ws2[-1][1] + 1) and self.is_num(ws2[-1][1] + 1, 1, 5) and \
                    self.num_end_ok(ws2[-1][1] + 1):
                e = ws2[-1][1] + 1
                if self.attached(e + 1) and self.toks[e + 1].s == '.':
                    e += 1
                return (i, e)
        ws = self.words(i)
        if not ws:
            return None
        last = ws[-1][1]
        num_after = self.same_line(last + 1) and self.is_num(last + 1)
        cue = any(self.is_type(a) or self.has_ending(a) or not_latin(self.toks[a].s) or
                  (idx > 0 and not self.lower_mode and self.toks[a].s.islower() and self.toks[a].low not in PARTICLE_ST
                   and not self.toks[a].low.endswith(('s', 'ed', 'ing', 'ly')))
                  for idx, (a, _) in enumerate(ws))
        if num_after and cue and self.num_end_ok(last + 1):
            e = last + 1
            if self.attached(e + 1) and self.toks[e + 1].s == '.':
                e += 1
            return (i, e)
        # words NUM street/St. ("Bygget 91 street")
        if num_after and self.same_line(last + 2) and self.tok(last + 2).k == 'w' and self.tok(last + 2).low in ST_STRONG:
            return (i, last + 1)
        # Words + specific English suffix without number ("Burton Avenue", "Marina Fort Street") -> weak street
        for idx, (ws_, we) in enumerate(ws):
            if self.lower_mode or not self.toks[ws_].s[0].isupper():
                break
            if idx >= 1 and self.toks[ws_].low in ST_STRONG:
                if self.toks[ws_].low in ('st', 'dr') and idx + 1 < len(ws):
                    continue                      # "St. John", "Dr. Wells": Saint / Doctor
                if self.toks[i].low in COMMON and sentence_start(self.toks, i):
                    return None
                if any(self.toks[a].low in NONPERSON or self.toks[a].low in GEO for a, _ in ws[:idx]):
                    return None
                # A possessive before the suffix names a thing, not a street ("Tesla's Visionary Drive").
                if any(self.toks[a].low.endswith(("'s", "\u2019s")) for a, _ in ws[:idx]) or (
                        i > 0 and self.same_line(i) and self.toks[i - 1].k == 'w'
                        and self.toks[i - 1].low.endswith(("'s", "\u2019s"))):
                    return None
                return (i, we)
        return None

    # ---- special forms
    def special_at(self, i):
        t = self.toks[i]
        low = t.low
        # military: PSC 1234, Box 5678 / Unit 1234 Box 5678 / USNS Name
        if low in ('psc', 'unit', 'cmr') and self.is_num(i + 1):
            j = i + 1
            if self.tok(j + 1) is not None and self.toks[j + 1].s == ',':
                j += 1
            if self.tok(j + 1) is not None and self.toks[j + 1].low == 'box' and self.is_num(j + 2):
                return (i, j + 2, True)
        if low in MIL_SHIP and self.same_line(i + 1) and self.tok(i + 1).k == 'w':
            return (i, i + 1, True)
        # P.O. Box 123 / PO Box 123
        if low in ('p', 'po'):
            j = i
            seq = ''
            while j < min(i + 6, self.n) and self.toks[j].low != 'box':
                seq += self.toks[j].low
                j += 1
            if j < self.n and seq in ('p.o.', 'po', 'p.o', 'po.') and self.is_num(j + 1):
                return (i, j + 1, True)
        # the corner of X and Y
        if low == 'corner' and self.tok(i + 1) is not None and self.toks[i + 1].low == 'of':
            j = i + 2
            end = -1
            seen_and = False
            while j < self.n and j < i + 20 and not self.toks[j].nl:
                u = self.toks[j]
                if u.s in ('?', '!', ';') or (u.s == '.' and not (self.tok(j - 1).k == 'w' and len(self.tok(j - 1).s) <= 4)
                                              and not self.tok(j - 1).k == 'n'):
                    break
                if u.low == 'and':
                    seen_and = True
                elif u.k == 'w' and u.low in FUNC:
                    break
                end = j
                j += 1
            if end > i + 2 and seen_and:
                s = i - 1 if i > 0 and self.toks[i - 1].low == 'the' else i
                return (s, end, True)
        # secondary unit alone
        e = self.secondary_at(i)
        if e >= 0 and self.num_end_ok(e):
            return (i, e, True)
        # zip code context
        if t.k == 'n' and len(t.s) in (4, 5) and i >= 1:
            prev = ' '.join(x.low for x in self.toks[max(0, i - 4):i])
            if re.search(r'(zip|postal|post) ?code( is| :|:| -)?$|zip( is|:| :)?$|postcode( is|:| :)?$', prev):
                e = i
                if self.tok(i + 2) is not None and self.toks[i + 1].s == '-' and self.is_num(i + 2, 4, 4):
                    e = i + 2
                return (i, e, 'zip')
        return None

    def scan(self):
        spans = []
        i = 0
        while i < self.n:
            r = self.special_at(i)
            if r is None:
                st = self.street_at(i)
                if st is not None:
                    r = (st[0], st[1], self.toks[st[0]].k == 'n' or self.is_num(st[1]) or
                         self.is_num(st[1] - 1) and self.toks[st[1]].s == '.')
            if r is None:
                i += 1
                continue
            s, e, strong = r
            if strong == 'zip':                 # "zip code is 12345": reported as ZIP_CODE, not extended
                spans.append((s, e, 'ZIP_CODE'))
                i = e + 1
                continue
            s = self.extend_back(s)
            e = self.extend(e, strong)
            spans.append((s, e, 'ADDRESS'))
            i = e + 1
        return spans

    def extend_back(self, s):
        t = self.toks[s]
        # building number before a street that itself ends with a number: "2519 Semperweg 150"
        if s > 0 and t.k == 'w' and self.is_num(s - 1) and self.same_line(s) and not t.nl:
            s -= 1
        # "Katrina and Rúa do Paseo 46" (Presidio's two-street form), "the corner of ..."
        if s >= 2 and self.toks[s - 1].low == 'and' and self.same_line(s) and self.same_line(s - 1) \
                and self.toks[s - 2].k == 'w' and self.toks[s - 2].s[:1].isupper() or \
                (s >= 2 and self.lower_mode and self.toks[s - 1].low == 'and' and self.toks[s - 2].k == 'w'
                 and self.toks[s - 2].low not in FUNC and self.same_line(s) and self.same_line(s - 1)):
            p = s - 2
            if not (p > 0 and self.toks[p - 1].s == ','):     # not a list "A, B and C"
                s = p
        if s >= 2 and self.toks[s - 1].low == 'of' and self.toks[s - 2].low == 'corner':
            s -= 2
            if s > 0 and self.toks[s - 1].low == 'the':
                s -= 1
        return s

    def skip_line_marks(self, j):
        """skip '>' / '???' / '-' line prefixes at the start of a line"""
        k = j
        while k < self.n and self.toks[k].k == 'p' and self.toks[k].s in '>?*-|•' and (k == j or self.attached(k) or
                                                                                      len(self.toks[k].gap) <= 2):
            k += 1
        return k

    def extend(self, e, strong):
        """extend to the right over secondary units, 'and <street>', city / state / country / postcode segments"""
        segs = 0
        while e + 1 < self.n and segs < 7:
            j = e + 1
            t = self.toks[j]
            if t.nl > 2:
                break
            if t.nl:
                j = self.skip_line_marks(j)
                if j >= self.n or (j > e + 1 and self.toks[j].nl):
                    break
            if self.toks[j].s == ',' and not self.toks[j].nl:
                j += 1
                if j >= self.n:
                    break
                if self.toks[j].nl:
                    if self.toks[j].nl > 2:
                        break
                    j = self.skip_line_marks(j)
                    if j >= self.n:
                        break
            sec = self.secondary_at(j)
            if sec >= 0:
                e = sec
                segs += 1
                continue
            if self.toks[j].low == 'and' and not self.toks[j].nl:
                st = self.street_at(j + 1) if self.same_line(j + 1) else None
                if st is not None:
                    e = st[1]
                    segs += 1
                    continue
            st = self.street_at(j) if (self.toks[j].k == 'n' or self.toks[j].nl == 0) else None
            if st is not None and (self.toks[j].k == 'n' or self.toks[j].nl == 0):
                e = st[1]
                segs += 1
                continue
            if not strong:
                break
            k = self.place_segment(j)
            if k < j:
                break
            e = k
            segs += 1
        return e

    def place_segment(self, j):
        """city / state / country / postcode words on one line starting at j; returns last index or j-1"""
        k = j - 1
        got = False
        depth = 0
        while k + 1 < self.n:
            u = self.toks[k + 1]
            if k + 1 > j and u.nl:
                break
            if k + 1 > j and len(u.gap) > 3:
                break
            if u.k == 'n' and 2 <= len(u.s) <= 6:
                k += 1
                got = True
                if self.attached(k + 1) and self.toks[k + 1].s == '-' and self.is_num(k + 2, 3, 4) and self.attached(k + 2):
                    k += 2
                continue
            if u.k == 'w':
                nx = self.tok(k + 2)
                if u.low in PLACE_CONNECT and got and nx is not None and nx.k == 'w' and not nx.nl:
                    k += 1
                    continue
                if u.low in PLACE_STOP:
                    break
                if self.lower_mode or u.low == 'nan' or any(c.isupper() for c in u.s) or not u.s[0].isascii():
                    k += 1
                    got = True
                    continue
                break
            if u.s == '(' and got:
                depth += 1
                k += 1
                continue
            if u.s == ')' and depth:
                depth -= 1
                k += 1
                continue
            if u.s in ',.-\'’' and got and not u.nl and self.tok(k + 2) is not None and not self.tok(k + 2).nl \
                    and self.tok(k + 2).k != 'p':
                k += 1
                continue
            break
        while k >= j and self.toks[k].k == 'p' and self.toks[k].s != ')':
            k -= 1
        return k if got else j - 1


PLACE_CONNECT = frozenset('of the and de la del nad u v am an im le sur di du da do dos das des von van der y i e pod na'.split())
PLACE_STOP = FUNC | frozenset({'last', 'night', 'case', 'issue', 'after', 'concert', 'card', 'office', 'mobile', 'desk', 'fax',
                               'phone', 'email', 'e-mail', 'tel', 'website', 'name', 'address', 'street'})


def find_addresses(text, toks):
    sc = AddrScanner(text, toks)
    return [(typ, toks[s].a, toks[e].b) for s, e, typ in sc.scan()]


# ---------------------------------------------------------------- main
def scan(text):
    toks = tokenize(text)
    addrs = find_addresses(text, toks)
    persons = find_persons(text, toks)
    persons = [p for p in persons if not any(p[1] < b and a < p[2] for _, a, b in addrs)]
    return sorted(addrs + persons, key=lambda x: x[1])


if __name__ == '__main__':
    import sys
    for line in sys.stdin:
        line = line.rstrip('\n')
        for t, a, b in scan(line):
            print(t, a, b, repr(line[a:b]))
