"""Spanish: the words the skills recognise and the sentences they say.

The same tables as `en` (see its docstring); English is tried after these.
"""

FILLER = r"oye|hola|ok|por favor|puedes|podrias|quiero|quisiera|solo|asistente"
TRAILER = r"por favor|ahora|gracias"
TIMER_WORD = r"(temporizador|timer|cronometro|alarma)"

PATTERNS = {
    "timer.set": [
        r"(pon|ponme|pone|poner|crea|crear|inicia|iniciar|programa|programar|configura|"
        r"activa|activar)( un| el)? TIMER( de| para| por| con)? DUR",
        r"TIMER( de| para| por)? DUR",
        r"(avisame|recuerdame|despiertame) en DUR",
        r"(pon|ponme|pone|poner|crea|crear|inicia|iniciar|programa|programar|configura|"
        r"activa|activar)( un| el)? TIMER( (de|para|por|con) [a-z0-9 ]+)?",
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

ONES = (
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
    "dieciseis diecisiete dieciocho diecinueve veinte veintiuno veintidos veintitres "
    "veinticuatro veinticinco veintiseis veintisiete veintiocho veintinueve"
)
TENS = "treinta cuarenta cincuenta sesenta setenta ochenta noventa"
NUMBERS = {
    "ones": {**{word: value for value, word in enumerate(ONES.split())}, "un": 1, "una": 1},
    "tens": {word: 30 + 10 * i for i, word in enumerate(TENS.split())},
    "hundred": {"cien": 100, "ciento": 100},
    "times_hundred": "",
    "joiner": "y",
    "articles": {"un": 1, "una": 1},
}

UNITS = {"segundo": 1, "segundos": 1, "minuto": 60, "minutos": 60, "hora": 3600, "horas": 3600}
HALF_WORDS = ("media", "medio")
AND_A_HALF = r"y medi[ao]"
REWRITES = [
    ("media hora", "30 minutos"),
    ("medio minuto", "30 segundos"),
    ("por ciento", "percent"),
]

LABEL_ARTICLES = ("el", "los")
ALL_WORDS: tuple[str, ...] = ()

REPLIES = {
    "units": (("hora", "horas"), ("minuto", "minutos"), ("segundo", "segundos")),
    "and": " y ",
    "time": "Son las {h24}:{m:02d}.",
    "date": "Hoy es {weekday}, {day} de {monthname} de {year}.",
    "weekdays": "lunes martes miércoles jueves viernes sábado domingo",
    "months": "enero febrero marzo abril mayo junio julio agosto septiembre octubre "
    "noviembre diciembre",
    "timer_set": "Temporizador de {duration} en marcha.",
    "timer_set_label": "Temporizador {label} de {duration} en marcha.",
    "timer_how_long": "¿De cuánto tiempo es el temporizador?",
    "timer_bad": "Solo puedo poner temporizadores de un segundo a 24 horas, hasta diez.",
    "no_timers": "No hay temporizadores.",
    "timer_left": "{label}quedan {duration}",
    "timers": "{count} temporizadores: {list}.",
    "one_timer": "Un temporizador: {list}.",
    "cancelled_one": "Temporizador cancelado.",
    "cancelled_many": "{count} temporizadores cancelados.",
    "no_such_timer": "No encontré el temporizador {label}.",
    "which_timer": "Hay {count} temporizadores: {list}. Di cancelar todos, o cuál.",
    "alert": "El temporizador de {duration} ha terminado.",
    "alert_label": "El temporizador {label} ha terminado.",
    "nothing_yet": "Todavía no he dicho nada.",
    "volume": "Volumen al {percent} por ciento.",
    "reset": "Vale, he olvidado nuestra conversación.",
    "identity": "Uso el modelo de lenguaje {model} con la voz {voice}.",
    "unknown": "desconocido",
    "device_on": "{name}: encendido.",
    "device_off": "{name}: apagado.",
    "device_active": "{name}: activo.",
    "device_inactive": "{name}: inactivo.",
    "no_such_device": "No puedo hacer eso: no existe el dispositivo {name}. Puedo usar: {names}.",
    "no_devices": "No tengo dispositivos que controlar. Se pueden declarar en [tools] en la "
    "configuración.",
    "bad_action": "No puedo hacer eso: {name} solo admite {actions}.",
    "malformed": "No entendí ese comando de dispositivo, así que no hice nada.",
    "not_asked": "No hice nada: esa orden para {name} no coincide con lo que pediste.",
}

ACTION_WORDS = {
    "on": {"enciende", "encender", "prende"},
    "off": {"apaga", "apagar"},
    "toggle": {"cambia"},
}
STATUS_START = {"esta", "estan"}
STATUS_ANYWHERE = {"estado"}
LEADING_FILLER: set[str] = set()
PRONOUNS = {"eso", "esto", "aquello", "lo", "la", "todo"}
DEVICE_COMMANDS = [
    r"(?:enciende|encender|prende|prender|apaga|apagar) (?:el |la |los |las )?"
    r"(?P<obj>[a-z0-9 ]+)",
]
