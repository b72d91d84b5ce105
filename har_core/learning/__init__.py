"""Learning: how a model trains (`trainconfig`, `training`), cached backbone features (`features`), k-fold over
groups (`crossval`), teaching from a few clips (`teach`), background training jobs (`jobs`) and the 'no known
activity' score (`openset`)."""
