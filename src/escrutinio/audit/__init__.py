"""Risk-limiting audits of tally sheets and ballots (issue 6). See docs/audit.md.

One small pure module per method:

* :mod:`.assertions` - outcomes as linear assorter assertions (SHANGRLA, Stark 2020),
  first-round rules (Bolivia, Argentina, Ecuador), D'Hondt seats;
* :mod:`.alpha` - ALPHA betting martingale (Stark 2023);
* :mod:`.bravo` - BRAVO ballot polling (Lindeman, Stark & Yates 2012);
* :mod:`.comparison` - super-simple (Stark 2010) and ALPHA ballot-level comparison;
* :mod:`.kaplan_markov` - MACRO batch comparison of tally sheets (Stark 2009);
* :mod:`.stratified` - strata: Kaplan-Markov per stratum, Fisher across (SUITE-style);
* :mod:`.sampling` - Rivest's consistent sampler and SHA-256 counter mode;
* :mod:`.sample_size` - sample sizes by formula or simulation;
* :mod:`.workflow` - plan / sample / record / status / report, state in the workspace.
"""
