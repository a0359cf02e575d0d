"""English: the words the skills recognise and the sentences they say.

Patterns are regular expressions over normalised text (lowercase, no accents
or punctuation, numbers as digits; see `assistant.skills.words`). ``DUR``
stands for a duration ("5 minutes and 30 seconds"), ``UNIT`` for a time unit
and ``TIMER`` for `TIMER_WORD`; the recogniser expands them.
"""

FILLER = (
    r"hey|hi|ok|okay|so|please|um|uh|assistant|can you|could you|would you|will you|"
    r"can you please|could you please|i want to|i want you to|id like to|i would like to|"
    r"i need you to|go ahead and|just"
)
"""Polite words before a command, stripped before the patterns match."""
TRAILER = r"please|now|for me|thanks|thank you|right now"
"""Polite words after a command."""
TIMER_WORD = "timer"

PATTERNS = {
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
"""Intent name -> patterns matched against the whole utterance, tried in order."""

ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
)
TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
NUMBERS = {
    "ones": {word: value for value, word in enumerate(ONES.split())},
    "tens": {word: 20 + 10 * i for i, word in enumerate(TENS.split())},
    "hundred": {},
    "times_hundred": "hundred",
    "joiner": "and",
    "articles": {"a": 1, "an": 1},
}
"""Number words: ``ones`` and ``tens`` by value, ``hundred`` words that are
100 on their own, ``times_hundred`` the word after a digit ("two hundred"),
``joiner`` the "and" inside a number, ``articles`` that mean 1 before a unit."""

UNITS = {
    "second": 1, "seconds": 1, "sec": 1, "secs": 1,
    "minute": 60, "minutes": 60, "min": 60, "mins": 60,
    "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600,
}  # fmt: skip
"""Time-unit words, in seconds."""
HALF_WORDS = ("half",)
AND_A_HALF = r"and a half"
"""How "and a half" is said after a count or a unit ("an hour and a half")."""
REWRITES = [("half an hour", "30 minutes"), ("half a minute", "30 seconds")]
"""Phrases replaced before the patterns match."""

LABEL_ARTICLES = ("the", "my")
"""Words dropped from the front of a timer's name ("cancel the pasta timer")."""
ALL_WORDS = ("all", "every")
"""A timer "name" that means every timer."""

REPLIES = {
    "units": (("hour", "hours"), ("minute", "minutes"), ("second", "seconds")),
    "and": " and ",
    "time": "It's {h12}:{m:02d} {ampm}.",
    "date": "Today is {weekday}, {monthname} {day}, {year}.",
    "weekdays": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    "months": "January February March April May June July August September October "
    "November December",
    "timer_set": "Timer set for {duration}.",
    "timer_set_label": "{label} timer set for {duration}.",
    "timer_how_long": "How long should the timer be?",
    "timer_bad": "I can only set timers from one second to 24 hours, up to ten at once.",
    "no_timers": "You have no timers.",
    "timer_left": "{label}{duration} left",
    "timers": "{count} timers: {list}.",
    "one_timer": "One timer: {list}.",
    "cancelled_one": "Timer cancelled.",
    "cancelled_many": "Cancelled {count} timers.",
    "no_such_timer": "I couldn't find a {label} timer.",
    "which_timer": "You have {count} timers: {list}. Say cancel all timers, or which one.",
    "alert": "Your timer for {duration} is done.",
    "alert_label": "Your {label} timer is done.",
    "nothing_yet": "I haven't said anything yet.",
    "volume": "Volume {percent} percent.",
    "reset": "Okay, I've forgotten our conversation.",
    "identity": "I'm running the {model} language model with the {voice} voice.",
    "unknown": "unknown",
    "device_on": "The {name} is on.",
    "device_off": "The {name} is off.",
    "device_active": "The {name} is active.",
    "device_inactive": "The {name} is not active.",
    "no_such_device": "I can't do that: there is no device called {name}. I can use: {names}.",
    "no_devices": "I have no devices to control. They can be declared under [tools] in the config.",
    "bad_action": "I can't do that: the {name} only supports {actions}.",
    "malformed": "I couldn't understand that device command, so I did nothing.",
    "not_asked": "I did nothing: that {name} command didn't match what you asked.",
}
"""What the skills say; ``{...}`` fields are filled in by the handler."""

ACTION_WORDS = {"on": {"on"}, "off": {"off"}, "toggle": {"toggle"}}
"""Device action -> the words that ask for it."""
STATUS_START = {"is", "are", "check"}
"""Words that make a question of a device command when they lead it ("is the
lamp on"); inside a command ("turn it on, it is dark") they do not."""
STATUS_ANYWHERE = {"status", "state", "if", "whether"}
"""Words that make a question wherever they are."""
LEADING_FILLER = {"please", "hey", "ok", "okay", "so", "can", "could", "you", "tell", "me"}
"""Words skipped when looking for the word that leads a device question."""
PRONOUNS = {"it", "this", "that", "them", "these", "those", "everything", "all"}
"""Objects of "turn it off" that are not device names, so are not refused as one."""
DEVICE_COMMANDS = [
    r"(?:turn|switch|put|flip) (?:on|off) (?:the |my |a )?(?P<obj>[a-z0-9 ]+)",
    r"(?:turn|switch|put|flip) (?:the |my |a )?(?P<obj>[a-z0-9 ]+?) (?:on|off)",
]
"""Whole-utterance device commands; ``obj`` is the device the user named."""
