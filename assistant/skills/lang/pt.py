"""Portuguese: the words the skills recognise and the sentences they say.

The same tables as `en` (see its docstring); English is tried after these.
"""

FILLER = r"ei|ola|ok|por favor|pode|podes|voce pode|consegue|quero|eu quero|queria|so|assistente"
TRAILER = r"por favor|agora|obrigado|obrigada"
TIMER_WORD = r"(temporizador|timer|cronometro|alarme)"

PATTERNS = {
    "timer.set": [
        r"(define|defina|definir|coloca|coloque|colocar|poe|ponha|por|inicia|inicie|iniciar|"
        r"liga|ligue|cria|crie|criar|marca|marque|programa|programe|faz|faca)( um| o)? TIMER"
        r"( de| para| por| com)? DUR",
        r"TIMER( de| para| por)? DUR",
        r"(me )?(avisa|avise|lembra|lembre)( me)? (em|daqui a) DUR",
        r"(define|defina|definir|coloca|coloque|colocar|poe|ponha|por|inicia|inicie|iniciar|"
        r"liga|ligue|cria|crie|criar|marca|marque|programa|programe|faz|faca)( um| o)? TIMER"
        r"( (de|para|por|com) [a-z0-9 ]+)?",
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

ONES = (
    "zero um dois tres quatro cinco seis sete oito nove dez onze doze treze catorze quinze "
    "dezesseis dezessete dezoito dezenove"
)
TENS = "vinte trinta quarenta cinquenta sessenta setenta oitenta noventa"
NUMBERS = {
    "ones": {
        **{word: value for value, word in enumerate(ONES.split())},
        # Feminine forms and the European spellings.
        "uma": 1,
        "duas": 2,
        "quatorze": 14,
        "dezasseis": 16,
        "dezassete": 17,
        "dezanove": 19,
    },
    "tens": {word: 20 + 10 * i for i, word in enumerate(TENS.split())},
    "hundred": {"cem": 100, "cento": 100},
    "times_hundred": "",
    "joiner": "e",
    "articles": {"um": 1, "uma": 1},
}

UNITS = {"segundo": 1, "segundos": 1, "minuto": 60, "minutos": 60, "hora": 3600, "horas": 3600}
HALF_WORDS = ("meia", "meio")
AND_A_HALF = r"e mei[ao]"
REWRITES = [("meia hora", "30 minutos"), ("meio minuto", "30 segundos"), ("por cento", "percent")]

LABEL_ARTICLES = ("o", "os")
ALL_WORDS: tuple[str, ...] = ()

REPLIES = {
    "units": (("hora", "horas"), ("minuto", "minutos"), ("segundo", "segundos")),
    "and": " e ",
    "time": "São {h24}:{m:02d}.",
    "date": "Hoje é {weekday}, {day} de {monthname} de {year}.",
    "weekdays": "segunda-feira terça-feira quarta-feira quinta-feira sexta-feira sábado domingo",
    "months": "janeiro fevereiro março abril maio junho julho agosto setembro outubro "
    "novembro dezembro",
    "timer_set": "Temporizador de {duration} iniciado.",
    "timer_set_label": "Temporizador {label} de {duration} iniciado.",
    "timer_how_long": "De quanto tempo é o temporizador?",
    "timer_bad": "Só consigo temporizadores de um segundo a 24 horas, até dez de cada vez.",
    "no_timers": "Não há temporizadores.",
    "timer_left": "{label}faltam {duration}",
    "timers": "{count} temporizadores: {list}.",
    "one_timer": "Um temporizador: {list}.",
    "cancelled_one": "Temporizador cancelado.",
    "cancelled_many": "{count} temporizadores cancelados.",
    "no_such_timer": "Não encontrei o temporizador {label}.",
    "which_timer": "Há {count} temporizadores: {list}. Diga cancelar todos, ou qual.",
    "alert": "O temporizador de {duration} terminou.",
    "alert_label": "O temporizador {label} terminou.",
    "nothing_yet": "Ainda não disse nada.",
    "volume": "Volume a {percent} por cento.",
    "reset": "Pronto, esqueci a nossa conversa.",
    "identity": "Estou a usar o modelo de linguagem {model} com a voz {voice}.",
    "unknown": "desconhecido",
    "device_on": "{name}: ligado.",
    "device_off": "{name}: desligado.",
    "device_active": "{name}: ativo.",
    "device_inactive": "{name}: inativo.",
    "no_such_device": "Não posso fazer isso: não existe o dispositivo {name}. Posso usar: {names}.",
    "no_devices": "Não tenho dispositivos para controlar. Podem ser declarados em [tools] na "
    "configuração.",
    "bad_action": "Não posso fazer isso: {name} só aceita {actions}.",
    "malformed": "Não entendi esse comando de dispositivo, então não fiz nada.",
    "not_asked": "Não fiz nada: esse comando para {name} não corresponde ao pedido.",
}

ACTION_WORDS = {
    "on": {"liga", "ligue", "ligar", "acende", "acenda"},
    "off": {"desliga", "desligue", "desligar", "apaga", "apague", "apagar"},
    "toggle": {"alterna", "alternar"},
}
STATUS_START = {"esta", "estao"}
STATUS_ANYWHERE = {"estado"}
LEADING_FILLER: set[str] = set()
PRONOUNS = {"isso", "isto", "aquilo", "ele", "ela"}
DEVICE_COMMANDS = [
    r"(?:liga|ligue|desliga|desligue|acende|acenda|apaga|apague) (?:o |a |os |as )?"
    r"(?P<obj>[a-z0-9 ]+)",
]
