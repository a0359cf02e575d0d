# Included by llama.cpp's own project() call (setup.sh passes
# -DCMAKE_PROJECT_llama.cpp_INCLUDE=<this file> in CMAKE_ARGS).
#
# The appliance loads libllama and ggml, nothing else. llama-cpp-python
# forces llama.cpp's "common" library on (it serves llama.cpp's tools, its
# server and the multimodal library, none of which the appliance loads),
# and that library is a third of the build. A plain variable here, in
# llama.cpp's directory scope, wins over that cache entry, so it is left out.
set(LLAMA_BUILD_COMMON OFF)
