"""Appliance commands recognised without the LLM: a small, pure intent matcher.

`IntentMatcher.match` turns a transcript into an `Intent` (a name and its
slots) or None. It is tolerant of speech-recognition errors: text is
lowercased, accents and punctuation are dropped, number words become digits
("five minutes" -> "5 minutes"), and a word that is not in the command
vocabulary is replaced by the closest one (difflib), so "timmer" and
"cansel" still match. Patterns match the *whole* utterance (after polite
filler such as "please" or "can you"), so a question that merely contains a
command word ("how do I stop a dog barking") goes to the LLM.

Intent names and slots:

=============== ====================================================
``time``        -
``date``        -
``timer.set``   ``seconds`` (int), ``label`` (str, may be empty)
``timer.list``  -
``timer.cancel`` ``all`` (bool), ``label`` (str: a name, or a duration
                such as "5 minute", may be empty)
``stop``        -  (stop, cancel, be quiet)
``repeat``      -
``volume.up``   -
``volume.down`` -
``volume.set``  ``percent`` (int)
``reset``       -  (forget the conversation)
``identity``    -  (which model and voice are in use)
=============== ====================================================

English patterns are always tried; Portuguese (``pt``) or Spanish (``es``)
patterns are tried first when the language profile says so.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field

LANGUAGES = ("en", "pt", "es")

FUZZY_CUTOFF = 0.8
"""difflib similarity a misheard word needs to count as a command word."""
FUZZY_MIN_LEN = 4
"""Shorter words are never corrected: too many short words look alike."""


@dataclass(frozen=True)
class Intent:
    name: str
    slots: dict[str, object] = field(default_factory=dict)
    language: str = "en"
    """Language of the pattern that matched."""


# -- number words ----------------------------------------------------------


def _counting(words: str, first: int, step: int = 1) -> dict[str, int]:
    """{"twenty": 20, "thirty": 30, ...} from "twenty thirty ...", 20, 10."""
    return {word: first + i * step for i, word in enumerate(words.split(" "))}


_NUMBERS = {
    "en": {
        "ones": _counting(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen",
            0,
        ),
        "tens": _counting("twenty thirty forty fifty sixty seventy eighty ninety", 20, 10),
        "hundred": {},
        "times_hundred": "hundred",
        "joiner": "and",
        "articles": {"a": 1, "an": 1},
    },
    "pt": {
        "ones": {
            **_counting(
                "zero um dois tres quatro cinco seis sete oito nove dez onze doze treze "
                "catorze quinze dezesseis dezessete dezoito dezenove",
                0,
            ),
            "uma": 1,
            "duas": 2,
            "quatorze": 14,
            "dezasseis": 16,
            "dezassete": 17,
            "dezanove": 19,
        },
        "tens": _counting(
            "vinte trinta quarenta cinquenta sessenta setenta oitenta noventa", 20, 10
        ),
        "hundred": {"cem": 100, "cento": 100},
        "times_hundred": "",
        "joiner": "e",
        "articles": {"um": 1, "uma": 1},
    },
    "es": {
        "ones": {
            **_counting(
                "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece "
                "catorce quince dieciseis diecisiete dieciocho diecinueve veinte veintiuno "
                "veintidos veintitres veinticuatro veinticinco veintiseis veintisiete "
                "veintiocho veintinueve",
                0,
            ),
            "un": 1,
            "una": 1,
        },
        "tens": _counting("treinta cuarenta cincuenta sesenta setenta ochenta noventa", 30, 10),
        "hundred": {"cien": 100, "ciento": 100},
        "times_hundred": "",
        "joiner": "y",
        "articles": {"un": 1, "una": 1},
    },
}

_UNIT_WORDS = {
    "second": 1, "seconds": 1, "sec": 1, "secs": 1, "segundo": 1, "segundos": 1,
    "minute": 60, "minutes": 60, "min": 60, "mins": 60, "minuto": 60, "minutos": 60,
    "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600, "hora": 3600, "horas": 3600,
}  # fmt: skip

_PHRASES = {
    "en": [("half an hour", "30 minutes"), ("half a minute", "30 seconds")],
    "pt": [("meia hora", "30 minutos"), ("meio minuto", "30 segundos"), ("por cento", "percent")],
    "es": [
        ("media hora", "30 minutos"),
        ("medio minuto", "30 segundos"),
        ("por ciento", "percent"),
    ],
}


def _parse_number(words: list[str], i: int, table: dict) -> tuple[int, int] | None:
    """The number spelled from ``words[i]``: (value, index after it), or None."""
    ones, tens, joiner = table["ones"], table["tens"], table["joiner"]
    value, j = 0, i

    def rest(j: int) -> tuple[int, int]:
        """Tens and ones after a hundred or at the start."""
        if j < len(words) and words[j] in tens:
            v = tens[words[j]]
            j += 1
            after = words[j + 1] if j + 1 < len(words) else ""
            if j < len(words) and words[j] == joiner and ones.get(after, 10) < 10:
                return v + ones[after], j + 2
            if j < len(words) and words[j] in ones and 0 < ones[words[j]] < 10:
                return v + ones[words[j]], j + 1
            return v, j
        if j < len(words) and words[j] in ones:
            return ones[words[j]], j + 1
        return 0, j

    if words[j] in table["hundred"]:
        value, j = table["hundred"][words[j]], j + 1
        if j + 1 < len(words) and words[j] == joiner:
            more, k = rest(j + 1)
            if k > j + 1:
                return value + more, k
        more, k = rest(j)
        return value + more, k
    if (
        table["times_hundred"]
        and words[j] in ones
        and j + 1 < len(words)
        and words[j + 1] == table["times_hundred"]
    ):
        value, j = ones[words[j]] * 100, j + 2
        if j < len(words) and words[j] == joiner:
            more, k = rest(j + 1)
            if k > j + 1:
                return value + more, k
        more, k = rest(j)
        return value + more, k
    value, k = rest(j)
    return (value, k) if k > j else None


def numbers_to_digits(words: list[str], languages: tuple[str, ...]) -> list[str]:
    """Replace spelled numbers with digits. Articles ("a", "um", "una") count
    as 1 only before a unit ("a minute"), where they cannot be articles."""
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        next_word = words[i + 1] if i + 1 < len(words) else ""
        done = False
        for lang in languages:
            table = _NUMBERS[lang]
            if word in table["articles"]:
                if next_word in _UNIT_WORDS:
                    out.append(str(table["articles"][word]))
                    i += 1
                    done = True
                    break
                continue
            parsed = _parse_number(words, i, table)
            if parsed is not None:
                out.append(str(parsed[0]))
                i = parsed[1]
                done = True
                break
        if not done:
            out.append(word)
            i += 1
    return out


def parse_duration(text: str) -> int:
    """Seconds in a normalised duration such as "1 hour 30 minutes"; 0 if none."""
    total = 0
    for count, unit in re.findall(r"(\d+) ([a-z]+)", text):
        total += int(count) * _UNIT_WORDS.get(unit, 0)
    return total


# -- patterns ----------------------------------------------------------------

_DUR = r"(?P<dur>\d+ UNIT(?:(?: and| e| y)? \d+ UNIT)*)"
_UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|segundos?|minutos?|horas?)"

_FILLER = {
    "en": (
        r"hey|hi|ok|okay|so|please|um|uh|assistant|can you|could you|would you|will you|"
        r"can you please|could you please|i want to|i want you to|id like to|i would like to|"
        r"i need you to|go ahead and|just"
    ),
    "pt": r"ei|ola|ok|por favor|pode|podes|voce pode|consegue|quero|eu quero|queria|so|assistente",
    "es": r"oye|hola|ok|por favor|puedes|podrias|quiero|quisiera|solo|asistente",
}
_TRAILER = {
    "en": r"please|now|for me|thanks|thank you|right now",
    "pt": r"por favor|agora|obrigado|obrigada",
    "es": r"por favor|ahora|gracias",
}

_EN = {
    "timer.set": [
        r"(set|start|create|make|add|put on)( me)?( a| an| 1)?( (?P<label>[a-z]+))? timer"
        r"( for| of)? DUR",
        r"(set|start|create|make)( me)?( a| an| 1)? DUR timer( for (?P<label>[a-z]+))?",
        r"timer( for)? DUR",
        r"(remind|wake|tell) me in DUR",
        r"DUR timer",
        r"count down( from)? DUR",
    ],
    "timer.cancel": [
        r"(cancel|stop|delete|remove|clear|end|kill|turn off|switch off|dismiss)"
        r"( the| my| that| this)?( (?P<label>[a-z0-9 ]+?))? timer",
        r"(cancel|stop|delete|remove|clear|end|kill|turn off)( all| every)?( the| my| of my)?"
        r" (?P<all>timers)",
        r"(cancel|stop|delete|remove|clear|end|turn off)( the| my)? timer for (?P<label>.+)",
    ],
    "timer.list": [
        r"(list|show|check|read)( me)?( my| the| all| all the| all my)? timers?",
        r"(what|which|how many) timers?( are| do i have| have i got| is)?"
        r"( there| running| set| active| left| on)*",
        r"how (much|long) (time )?(is |do i have |have i got )?(left|remaining)"
        r"( on (the|my)( [a-z0-9 ]+)? timer)?",
        r"(my )?timers?( status)?",
        r"(are there |do i have )?any timers( running| set| on)?",
    ],
    "volume.set": [
        r"((set|change|turn|put)( the)? )?volume( to| at)? (?P<pct>\d+)( percent)?",
        r"(set|turn|put) (it|the volume|the sound) (to|at) (?P<pct>\d+)( percent)?",
        r"(?P<max>full|max|maximum) volume",
    ],
    "volume.up": [
        r"(turn|crank|pump) (it|the volume|the sound|the volume up|the sound up) up",
        r"turn( it)? up( the)?( volume| sound)?",
        r"(increase|raise)( the)? (volume|sound)",
        r"volume up",
        r"(a bit |a little |much )?louder( please)?",
        r"speak( a bit| a little)? (louder|up)",
        r"i cant hear( you)?",
    ],
    "volume.down": [
        r"(turn) (it|the volume|the sound) down",
        r"turn( it)? down( the)?( volume| sound)?",
        r"(decrease|lower|reduce)( the)? (volume|sound)",
        r"volume down",
        r"(a bit |a little |much )?(quieter|softer)",
        r"speak( a bit| a little)? (more )?(quieter|softer|quietly|softly)",
        r"too loud",
    ],
    "reset": [
        r"(reset|clear|restart|forget|erase|wipe)( the| our| this| my)?"
        r" (conversation|chat|memory|context|history)",
        r"forget (everything|all that|that|it all|all of that)",
        r"start (over|again|fresh|a new conversation)",
        r"new (conversation|chat|topic)",
        r"reset",
    ],
    "identity": [
        r"(what|which) (language )?(model|llm|voice)( and (voice|model))?"
        r"( are you| are you using| do you use| is (this|that|in use|being used|used|running)"
        r"| are you running| is it| am i talking to| powers you)?",
        r"what are you running( on)?",
    ],
    "repeat": [
        r"repeat( that| it| yourself| the last answer| your last answer| the answer)?",
        r"say (that|it) again",
        r"what did you (just )?say",
        r"come again",
        r"pardon( me)?",
        r"i (didnt|did not) (hear|catch|get) (that|it|you)",
        r"one more time",
    ],
    "date": [
        r"(whats|what is) (the )?(date|day)( today)?( is it)?",
        r"what (date|day) is (it|today)( today)?",
        r"(whats|what is) todays date",
        r"(tell me )?(todays|the) date",
        r"date",
        r"what day of the week is (it|today)",
    ],
    "time": [
        r"(whats|what is) the time( now| right now)?",
        r"what time is it( now| right now)?",
        r"(tell me )?the time",
        r"(the )?(current )?time",
        r"what time it is",
        r"do you (know|have) the time",
    ],
    "stop": [
        r"stop( it| that| talking| speaking| now| please)?",
        r"cancel( that| it)?",
        r"(be )?quiet",
        r"be silent",
        r"silence",
        r"shut up",
        r"enough",
        r"never ?mind",
        r"hush",
        r"shh+",
        r"(thats|that is) enough",
    ],
}

_PT_TIMER = r"(temporizador|timer|cronometro|alarme)"
_PT = {
    "timer.set": [
        r"(define|defina|definir|coloca|coloque|colocar|poe|ponha|por|inicia|inicie|iniciar|"
        r"liga|ligue|cria|crie|criar|marca|marque|programa|programe|faz|faca)( um| o)? TIMER"
        r"( de| para| por| com)? DUR",
        r"TIMER( de| para| por)? DUR",
        r"(me )?(avisa|avise|lembra|lembre)( me)? (em|daqui a) DUR",
    ],
    "timer.cancel": [
        r"(cancela|cancele|cancelar|para|pare|parar|apaga|apague|apagar|desliga|desligue|"
        r"remove|remova)( o| meu| esse| este)? TIMER( de (?P<label>[a-z0-9 ]+))?",
        r"(cancela|cancele|cancelar|para|pare|apaga|apague|desliga|desligue|remove|remova)"
        r"( todos)?( os| meus)? (?P<all>temporizadores|timers|cronometros|alarmes)",
    ],
    "timer.list": [
        r"(quais|que|quantos) (temporizadores|timers|cronometros|alarmes)"
        r"( ha| tenho| estao ativos| existem| estao ligados)?",
        r"(lista|listar|mostra|mostrar|mostre)( os| meus)? (temporizadores|timers)",
        r"quanto tempo (falta|resta)( no (temporizador|timer))?",
        r"(temporizadores|timers)",
    ],
    "volume.set": [
        r"((coloca|coloque|poe|ponha|muda|mude|define|defina)( o)? )?volume"
        r"( a| em| para| no| ao)? (?P<pct>\d+)( percent)?",
        r"volume (?P<max>maximo)",
    ],
    "volume.up": [
        r"(aumenta|aumente|aumentar|sobe|suba|subir)( o)? (volume|som)",
        r"((fala|fale) )?mais alto",
        r"volume (mais alto|para cima|acima)",
    ],
    "volume.down": [
        r"(diminui|diminua|diminuir|baixa|baixe|baixar|abaixa|abaixe|abaixar)( o)? (volume|som)",
        r"((fala|fale) )?mais baixo",
        r"volume (mais baixo|para baixo|abaixo)",
    ],
    "reset": [
        r"(reinicia|reinicie|reiniciar|limpa|limpe|limpar|apaga|apague|apagar|esquece|esqueca|"
        r"esquecer)( a| nossa| esta)? (conversa|memoria|historia|historico)",
        r"(esquece|esqueca) tudo",
        r"(comecar|comeca|comece|vamos comecar) de novo",
        r"nova conversa",
        r"recomecar",
    ],
    "identity": [
        r"(qual|que) (e )?(o |a )?(modelo|voz)( de linguagem)?( e esse| e essa| e este| e esta|"
        r" voce usa| esta usando| estas a usar| em uso| usas)?",
    ],
    "repeat": [
        r"(repete|repita|repetir)( isso| por favor)?",
        r"pode repetir( isso)?",
        r"(diz|diga|fala|fale) (isso )?(de novo|outra vez|novamente)",
        r"o que (voce )?(disse|falou)",
        r"como",
    ],
    "date": [
        r"que dia (e|e hoje|sera|sera hoje)( hoje)?",
        r"qual (e )?a data( de hoje| hoje)?",
        r"que data (e|e hoje)( hoje)?",
        r"(a )?data( de hoje)?",
        r"em que dia estamos",
    ],
    "time": [
        r"(que|quais) horas? (sao|e|sera)( agora)?",
        r"(me )?(diz|diga|fala|fale) (as|que) horas( sao)?",
        r"horas",
        r"a hora",
    ],
    "stop": [
        r"para|pare|parar|chega|basta|silencio|cancela|cancele|cancelar|esquece",
        r"(cala|cale)( a boca| se)?",
        r"(fica|fique) (quieto|quieta|calado|calada)",
        r"deixa (pra|para) la",
    ],
}

_ES_TIMER = r"(temporizador|timer|cronometro|alarma)"
_ES = {
    "timer.set": [
        r"(pon|ponme|pone|poner|crea|crear|inicia|iniciar|programa|programar|configura|"
        r"activa|activar)( un| el)? TIMER( de| para| por| con)? DUR",
        r"TIMER( de| para| por)? DUR",
        r"(avisame|recuerdame|despiertame) en DUR",
    ],
    "timer.cancel": [
        r"(cancela|cancelar|quita|quitar|borra|borrar|para|parar|deten|detener|apaga|apagar|"
        r"elimina|eliminar)( el| mi| ese| este)? TIMER( de (?P<label>[a-z0-9 ]+))?",
        r"(cancela|cancelar|quita|borra|para|deten|apaga|elimina)( todos)?( los| mis)?"
        r" (?P<all>temporizadores|timers|cronometros|alarmas)",
    ],
    "timer.list": [
        r"(que|cuales|cuantos) (temporizadores|timers|alarmas)( hay| tengo| estan activos)?",
        r"(lista|listar|muestra|mostrar|muestrame)( los| mis)? (temporizadores|timers)",
        r"cuanto (tiempo )?(falta|queda)( en el (temporizador|timer))?",
        r"(temporizadores|timers)",
    ],
    "volume.set": [
        r"((pon|ponme|cambia|configura|ajusta)( el)? )?volumen( a| al| en)? (?P<pct>\d+)"
        r"( percent)?",
        r"volumen (?P<max>maximo)",
    ],
    "volume.up": [
        r"(sube|subir|aumenta|aumentar)( el)? (volumen|sonido)",
        r"(habla )?mas alto",
        r"volumen (mas alto|arriba)",
    ],
    "volume.down": [
        r"(baja|bajar|disminuye|disminuir|reduce|reducir)( el)? (volumen|sonido)",
        r"(habla )?mas bajo",
        r"volumen (mas bajo|abajo)",
    ],
    "reset": [
        r"(reinicia|reiniciar|borra|borrar|olvida|olvidar|limpia|limpiar)( la| nuestra| esta)?"
        r" (conversacion|memoria|historia|historial)",
        r"olvida(lo)? todo",
        r"(empezar|empecemos|empieza) de nuevo",
        r"nueva conversacion",
    ],
    "identity": [
        r"(que|cual) (es )?(el |la )?(modelo|voz)( es este| es esta| usas| estas usando| en uso)?",
        r"(que|cual) es tu (modelo|voz)",
    ],
    "repeat": [
        r"(repite|repitelo|repetir)( eso| por favor)?",
        r"puedes repetir( eso)?",
        r"(dilo|dime eso) (otra vez|de nuevo)",
        r"que (has dicho|dijiste)",
        r"como( dices)?",
        r"otra vez",
    ],
    "date": [
        r"que dia es( hoy)?",
        r"(cual es|que es) la fecha( de hoy| hoy)?",
        r"que fecha es( hoy)?",
        r"(la )?fecha( de hoy)?",
        r"a que (dia|fecha) estamos( hoy)?",
    ],
    "time": [
        r"que horas? (es|son)( ahora)?",
        r"(dime|me dices)( la| que)? hora",
        r"(la )?hora",
    ],
    "stop": [
        r"para|parar|detente|alto|basta|silencio|callate|calla|cancela|cancelar|olvidalo",
        r"ya esta|es suficiente|suficiente",
    ],
}

_PATTERNS = {"en": _EN, "pt": _PT, "es": _ES}
_TIMER_WORD = {"en": "timer", "pt": _PT_TIMER, "es": _ES_TIMER}


def _compile(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    compiled = []
    for name, patterns in _PATTERNS[lang].items():
        for pattern in patterns:
            text = pattern.replace("DUR", _DUR).replace("UNIT", _UNIT)
            text = text.replace("TIMER", _TIMER_WORD[lang])
            compiled.append((name, re.compile(text)))
    return compiled


def _vocabulary(lang: str) -> set[str]:
    """Every literal word of the language's patterns and number words."""
    words: set[str] = set()
    for patterns in _PATTERNS[lang].values():
        for pattern in patterns:
            literal = re.sub(r"\?P<\w+>|\\[a-z]|\[[^\]]*\]", " ", pattern)
            words.update(re.findall(r"[a-z]+", literal))
    for word in ("DUR", "UNIT", "TIMER"):
        words.discard(word.lower())
    words.update(_UNIT_WORDS)
    words.update(re.findall(r"[a-z]+", _TIMER_WORD[lang]))
    table = _NUMBERS[lang]
    words.update(table["ones"], table["tens"], table["hundred"])
    return {w for w in words if len(w) >= 2}


def normalize(text: str) -> str:
    """Lowercase, accents and punctuation dropped, one space between words."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("%", " percent ").replace("'", "").replace("\u2019", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


class IntentMatcher:
    """Matches transcripts against the command patterns of one language profile.

    Pure and thread-safe after construction (compiled patterns are read-only).
    """

    def __init__(self, language: str = "en") -> None:
        if language not in LANGUAGES:
            raise ValueError(
                f"intent language {language!r} is not supported; use one of {', '.join(LANGUAGES)}"
            )
        self.language = language
        self._languages = (language, "en") if language != "en" else ("en",)
        self._compiled = [(lang, _compile(lang)) for lang in self._languages]
        self._vocab = sorted(set().union(*(_vocabulary(lang) for lang in self._languages)))
        self._vocab_set = set(self._vocab)
        self._strip = [
            (
                re.compile(rf"^(?:(?:{_FILLER[lang]}) )+"),
                re.compile(rf"(?: (?:{_TRAILER[lang]}))+$"),
            )
            for lang in self._languages
        ]

    def words(self, text: str) -> list[str]:
        """The normalised, spelling-corrected words, with numbers as digits."""
        words = []
        for word in normalize(text).split():
            if word in self._vocab_set or word.isdigit() or len(word) < FUZZY_MIN_LEN:
                words.append(word)
                continue
            close = difflib.get_close_matches(word, self._vocab, n=1, cutoff=FUZZY_CUTOFF)
            words.append(close[0] if close else word)
        joined = " ".join(words)
        for lang in self._languages:
            for phrase, replacement in _PHRASES[lang]:
                joined = re.sub(rf"\b{phrase}\b", replacement, joined)
        return numbers_to_digits(joined.split(), self._languages)

    def match(self, transcript: str) -> Intent | None:
        """The command in ``transcript``, or None when it is not one (ask the LLM)."""
        text = " ".join(self.words(transcript))
        if not text:
            return None
        for (lang, compiled), (head, tail) in zip(self._compiled, self._strip, strict=True):
            core = tail.sub("", head.sub("", text)) or text
            for candidate in dict.fromkeys((core, text)):
                for name, pattern in compiled:
                    found = pattern.fullmatch(candidate)
                    if found:
                        return Intent(name, _slots(name, found), lang)
        return None


def _slots(name: str, found: re.Match[str]) -> dict[str, object]:
    groups = {k: v for k, v in found.groupdict().items() if v}
    if name == "timer.set":
        return {"seconds": parse_duration(groups.get("dur", "")), "label": groups.get("label", "")}
    if name == "timer.cancel":
        label = groups.get("label", "").strip()
        label = re.sub(r"^(the|my|o|os|el|los) ", "", label)
        return {"all": "all" in groups or label in ("all", "every"), "label": label}
    if name == "volume.set":
        if "max" in groups:
            return {"percent": 100}
        percent = int(groups["pct"])
        # ASR rarely hears "%": "volume 7" means seven out of ten.
        if percent <= 10 and "percent" not in found.group(0):
            percent *= 10
        return {"percent": percent}
    return {}
