"""The intent patterns of each language, as regular expressions over
normalized text (see `intents.normalize`).

``DUR`` stands for a duration ("5 minutes and 30 seconds"), ``UNIT`` for a
time unit and ``TIMER`` for the language's word for a timer; `intents`
expands them when it compiles the patterns.
"""

DUR = r"(?P<dur>\d+ UNIT(?:(?: and| e| y)? \d+ UNIT)*)"
UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|segundos?|minutos?|horas?)"

FILLER = {
    "en": (
        r"hey|hi|ok|okay|so|please|um|uh|assistant|can you|could you|would you|will you|"
        r"can you please|could you please|i want to|i want you to|id like to|i would like to|"
        r"i need you to|go ahead and|just"
    ),
    "pt": r"ei|ola|ok|por favor|pode|podes|voce pode|consegue|quero|eu quero|queria|so|assistente",
    "es": r"oye|hola|ok|por favor|puedes|podrias|quiero|quisiera|solo|asistente",
}
TRAILER = {
    "en": r"please|now|for me|thanks|thank you|right now",
    "pt": r"por favor|agora|obrigado|obrigada",
    "es": r"por favor|ahora|gracias",
}

EN = {
    "timer.set": [
        r"(set|start|create|make|add|put on)( me)?( a| an| 1)?( (?P<label>[a-z]+))? timer"
        r"( for| of)? DUR",
        r"(set|start|create|make)( me)?( a| an| 1)? DUR timer( for (?P<label>[a-z]+))?",
        r"timer( for)? DUR",
        r"(remind|wake|tell) me in DUR",
        r"DUR timer",
        r"count down( from)? DUR",
        # No readable duration ("set a timer for a while"): asks how long.
        r"(set|start|create|make|add|put on)( me)?( a| an| 1| the)?( [a-z]+)? timer"
        r"( (for|of) [a-z0-9 ]+)?",
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

PT_TIMER = r"(temporizador|timer|cronometro|alarme)"
PT = {
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

ES_TIMER = r"(temporizador|timer|cronometro|alarma)"
ES = {
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

PATTERNS = {"en": EN, "pt": PT, "es": ES}
TIMER_WORD = {"en": "timer", "pt": PT_TIMER, "es": ES_TIMER}
