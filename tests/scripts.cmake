# Scripts run as a user runs them: `backprop run SCRIPT`, each run recorded
# in a database of the build tree, and the script itself fails (error(),
# exit status 1) when it misses the figure it promises.
#  - script_iris: the 4-8-3 network must reach 95% on its held-out split.
#  - script_residual_mlp: the residual MLP with batch norm and dropout on
#    the digits for 10 epochs instead of 30, held to 95% (it reaches 99.3%
#    in the full run).
#  - script_custom_layer: a gated linear unit written in Lua (bp.module),
#    checked by bp.gradcheck, on the digits for 10 epochs, held to 93%.
#  - script_lr_find: the learning-rate range test on the digits; a fresh
#    network trained 5 epochs at the rate it suggests must reach 90% on
#    the held-out fifth (91.4% with the default seed 1).
#  - script_fashion_mnist (label "slow"): the 784-128-64-10 network for 3
#    epochs instead of 15, held to 85% (it reaches 88% in the full run, see
#    README.md); needs Debian's dataset-fashion-mnist. `ctest -LE slow`
#    leaves it out.
#  - script_fashion_cnn (label "slow"): issue 25's CNN for 1 epoch on the
#    first 10,000 training images (157 steps), scored on the 10,000 test
#    images, held to 78% (80.8% with the default seed 1; the full 60,000
#    reach 87.5% after one epoch, README.md).
#  - script_char_rnn (label "slow"): char-rnn's two LSTM layers of 128 on
#    the fortunes corpus for 300 iterations, held to a validation loss of
#    2.6 nats a character (a byte's frequencies alone give about 3.3);
#    needs Debian's fortunes.
#  - script_char_gpt (label "slow"): the character GPT (embeddings of 128,
#    two pre-norm blocks of 4-head causal attention and a 4x GELU MLP,
#    block 64, batch 32) on the fortunes corpus for 200 iterations, held to
#    a validation loss of 2.65 nats a character (2.54 with the default seed
#    1); needs Debian's fortunes.
set(BP_SCRIPT_DB ${CMAKE_BINARY_DIR}/test-results/scripts.db)

add_test(NAME script_iris
         COMMAND $<TARGET_FILE:backprop> run --db ${BP_SCRIPT_DB}
                 ${CMAKE_SOURCE_DIR}/scripts/iris.lua
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(script_iris PROPERTIES LABELS "script" TIMEOUT 120)

add_test(NAME script_residual_mlp
         COMMAND $<TARGET_FILE:backprop> run --db ${BP_SCRIPT_DB}
                 ${CMAKE_SOURCE_DIR}/scripts/residual_mlp.lua epochs=10 min_accuracy=0.95
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(script_residual_mlp PROPERTIES LABELS "script" TIMEOUT 120)

add_test(NAME script_custom_layer
         COMMAND $<TARGET_FILE:backprop> run --db ${BP_SCRIPT_DB}
                 ${CMAKE_SOURCE_DIR}/scripts/custom_layer.lua epochs=10 min_accuracy=0.93
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(script_custom_layer PROPERTIES LABELS "script" TIMEOUT 120)

add_test(NAME script_lr_find
         COMMAND $<TARGET_FILE:backprop> run --db ${BP_SCRIPT_DB}
                 ${CMAKE_SOURCE_DIR}/scripts/lr_find.lua min_accuracy=0.9
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(script_lr_find PROPERTIES LABELS "script" TIMEOUT 120)

add_test(NAME script_fashion_mnist
         COMMAND $<TARGET_FILE:backprop> run --db ${BP_SCRIPT_DB}
                 ${CMAKE_SOURCE_DIR}/scripts/fashion_mnist.lua epochs=3 min_accuracy=0.85
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(script_fashion_mnist PROPERTIES LABELS "script;slow" TIMEOUT 600)

add_test(NAME script_fashion_cnn
         COMMAND $<TARGET_FILE:backprop> run --db ${BP_SCRIPT_DB}
                 ${CMAKE_SOURCE_DIR}/scripts/fashion_cnn.lua epochs=1 train=10000
                 min_accuracy=0.78
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(script_fashion_cnn PROPERTIES LABELS "script;slow" TIMEOUT 600)

add_test(NAME script_char_rnn
         COMMAND $<TARGET_FILE:backprop> run --db ${BP_SCRIPT_DB}
                 ${CMAKE_SOURCE_DIR}/scripts/char_rnn.lua iters=300 every=100 max_val_loss=2.6
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(script_char_rnn PROPERTIES LABELS "script;slow" TIMEOUT 600)

add_test(NAME script_char_gpt
         COMMAND $<TARGET_FILE:backprop> run --db ${BP_SCRIPT_DB}
                 ${CMAKE_SOURCE_DIR}/scripts/char_gpt.lua iters=200 every=100 val_batches=4
                 max_val_loss=2.65
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(script_char_gpt PROPERTIES LABELS "script;slow" TIMEOUT 600)
